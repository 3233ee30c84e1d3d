"""The console's SOAP page in Chromium (tests/console_soap.rs starts the cloud).

    console_soap.py components BASE ADMIN_DIR PASSWORD NODE_URL CORES MEMORY_MB USER_PASSWORD

As the administrator (account admin, user admin, PASSWORD): register an image with boto3
(from ADMIN_DIR's eucarc), then from /soap call the node's ncDescribeResource (the reply
must hold the node's figures, CORES and MEMORY_MB, signed by the node: "signature valid")
and GetKeys on the node's GL, and the CLC's DescribeImages (the reply must list the image;
EC2 replies are unsigned, as
the original's), refuse a value that is not an xs:int, then sign in as account bob's root
(USER_PASSWORD) and be refused the page.

    console_soap.py services BASE ADMIN_DIR PASSWORD WALRUS_URL STORAGE_URL

Creates a bucket with boto3, then lists the administrator's buckets from /soap over Walrus's
S3 SOAP API, the request authenticated by the fields the page fills in; asks the storage
controller for its configuration, signed with the cloud's key, its reply signed by it.

Saves a screenshot of each page; prints one `ok: ...` line per check.
"""

import re
import sys

import boto3
from botocore.config import Config
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from browser import PATIENCE, browser, fill, gone, shot, sign_in, submit
from cloud_clients import ec2, eucarc, ok


def shot_panels(driver, name):
    """A screenshot with the request and reply panels in view."""
    driver.execute_script("document.querySelector('.soap-panels').scrollIntoView()")
    shot(driver, name)


def text(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css).text


def figure(xml, name):
    """The number an element NAME holds in the pretty-printed XML, whatever its prefix."""
    found = re.search(r"<(?:\w+:)?%s>(-?\d+)</" % name, xml)
    assert found, f"no {name} in:\n{xml}"
    return int(found.group(1))


def components(base, admin_dir, password, node_url, cores, memory, user_password):
    image = ec2(eucarc(admin_dir)).register_image(
        ImageLocation="images/console.manifest.xml", Name="console")["ImageId"]

    driver = browser()
    try:
        sign_in(driver, base, "admin", "admin", password)
        driver.get(base + "soap")
        services = text(driver, "#services")
        for port_type in ["AmazonEC2PortType", "EucalyptusCC", "EucalyptusNC", "StorageController",
                          "AmazonS3", "EucalyptusGL"]:
            assert port_type in services, services
        shot(driver, "console_soap_services")
        ok("/soap lists the services of the CLC, CC, NC, SC, Walrus and GL")

        driver.find_element(By.LINK_TEXT, "EucalyptusNC").click()
        operations = text(driver, "#operations")
        assert "ncDescribeResource" in operations and "ncRunInstance" in operations, operations
        shot(driver, "console_soap_nc_operations")
        driver.find_element(By.LINK_TEXT, "ncDescribeResource").click()
        target = Select(driver.find_element(By.ID, "target"))
        assert [o.get_attribute("value") for o in target.options] == [node_url], \
            [o.get_attribute("value") for o in target.options]
        names = [e.get_attribute("name") for e in driver.find_elements(By.CSS_SELECTOR, "#soap-form [name]")]
        for name in ["correlationId", "userId", "return", "statusMessage", "resourceType"]:
            assert name in names, names
        shot(driver, "console_soap_nc_form")
        ok("the ncDescribeResource form is the WSDL's fields; the node comes from its cluster")

        fill(driver, {"[name='statusMessage']": "seven"})
        submit(driver, "form#soap-form")
        problems = text(driver, "#problems")
        assert "statusMessage" in problems and "xs:int" in problems, problems
        assert not driver.find_elements(By.ID, "reply-xml")
        shot(driver, "console_soap_nc_refused")
        ok("a value that is not an xs:int is named and nothing is sent")

        fill(driver, {"[name='statusMessage']": "", "[name='userId']": "console <&>"})
        submit(driver, "form#soap-form")
        request, reply = text(driver, "#request-xml"), text(driver, "#reply-xml")
        assert "ncDescribeResource" in request and "BinarySecurityToken" in request, request
        assert "console &lt;&amp;&gt;" in request, request
        assert "ncDescribeResourceResponse" in reply, reply
        assert figure(reply, "numberOfCoresMax") == int(cores), reply
        assert figure(reply, "memorySizeMax") == int(memory), reply
        signature = text(driver, "#signature")
        assert signature.startswith("signature valid"), signature
        assert "node" in signature, signature
        shot_panels(driver, "console_soap_nc_reply")
        ok("ncDescribeResource from the console: the node's figures, its signature valid")

        # GL on the node's host, signed with the cluster key as the CC signs its calls there.
        driver.get(base + "soap?service=EucalyptusGL&operation=GetKeys")
        node_gl = node_url.replace("EucalyptusNC", "EucalyptusGL")
        target = Select(driver.find_element(By.ID, "target"))
        offered = [o.get_attribute("value") for o in target.options]
        assert len(offered) == 2 and node_gl in offered, offered
        target.select_by_value(node_gl)
        fill(driver, {"[name='serviceTag']": "self"})
        submit(driver, "form#soap-form")
        reply = text(driver, "#reply-xml")
        assert "GetKeysResponse" in reply and "NCcert" in reply, reply
        assert not driver.find_elements(By.ID, "fault"), text(driver, "#fault")
        assert text(driver, "#signature").startswith("signature valid"), text(driver, "#signature")
        shot_panels(driver, "console_soap_gl_reply")
        ok("GetKeys on the node's GL, offered beside the CC host's, signed and verified")

        driver.get(base + "soap?service=AmazonEC2PortType&operation=DescribeImages")
        shot(driver, "console_soap_ec2_form")
        submit(driver, "form#soap-form")
        request, reply = text(driver, "#request-xml"), text(driver, "#reply-xml")
        assert "DescribeImages" in request and "BinarySecurityToken" in request, request
        assert "DescribeImagesResponse" in reply and image in reply, reply
        assert "images/console.manifest.xml" in reply, reply
        assert text(driver, "#signature") == "unsigned", text(driver, "#signature")
        assert not driver.find_elements(By.ID, "fault")
        shot_panels(driver, "console_soap_ec2_reply")
        ok("DescribeImages from the console, signed as the administrator: the image is listed")

        # A fault is shown as a fault: an image that does not exist.
        fill(driver, {"[name='imagesSet/item[1]/imageId']": "emi-00000000"})
        submit(driver, "form#soap-form")
        fault = text(driver, "#fault")
        assert "InvalidAMIID.NotFound" in fault, fault
        shot_panels(driver, "console_soap_ec2_fault")
        ok("a fault is shown as a fault")

        driver.delete_all_cookies()
        sign_in(driver, base, "bob", "admin", user_password)
        driver.get(base + "soap?service=EucalyptusNC&operation=ncDescribeResource")
        assert driver.title.startswith("Forbidden"), driver.title
        assert "not allowed" in text(driver, "#error"), driver.page_source
        assert not driver.find_elements(By.ID, "soap-form")
        shot(driver, "console_soap_forbidden")
        # A POST carrying the user's own session token is refused as well.
        csrf = driver.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
        old = driver.find_element(By.TAG_NAME, "html")
        driver.execute_script(
            "const form = document.createElement('form');"
            "form.method = 'post'; form.action = '/soap';"
            "for (const [name, value] of Object.entries(arguments[0])) {"
            "  const input = document.createElement('input');"
            "  input.name = name; input.value = value; form.appendChild(input);"
            "}"
            "document.body.appendChild(form); form.submit();",
            {"csrf": csrf, "service": "EucalyptusNC", "operation": "ncDescribeResource",
             "target": node_url, "action": "send"})
        WebDriverWait(driver, PATIENCE).until(gone(old))
        assert driver.title.startswith("Forbidden"), driver.title
        assert not driver.find_elements(By.ID, "reply-xml")
        ok("another account's root user is refused the SOAP console, its page and its sending")
    finally:
        driver.quit()


def services(base, admin_dir, password, walrus_url, storage_url):
    env = eucarc(admin_dir)
    s3 = boto3.client("s3", endpoint_url=walrus_url, aws_access_key_id=env["EC2_ACCESS_KEY"],
                      aws_secret_access_key=env["EC2_SECRET_KEY"], region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    s3.create_bucket(Bucket="console-bucket")
    driver = browser()
    try:
        sign_in(driver, base, "admin", "admin", password)
        driver.get(base + "soap?service=AmazonS3&operation=ListAllMyBuckets")
        target = Select(driver.find_element(By.ID, "target"))
        assert [o.get_attribute("value") for o in target.options] == [walrus_url], \
            [o.get_attribute("value") for o in target.options]
        shot(driver, "console_soap_walrus_form")
        submit(driver, "form#soap-form")
        request, reply = text(driver, "#request-xml"), text(driver, "#reply-xml")
        assert env["EC2_ACCESS_KEY"] in request and re.search(r"<(\w+:)?Signature>[^<]+</", request), request
        assert not driver.find_elements(By.ID, "fault"), text(driver, "#fault")
        assert "ListAllMyBucketsResponse" in reply and "console-bucket" in reply, reply
        assert text(driver, "#signature") == "unsigned", text(driver, "#signature")
        shot_panels(driver, "console_soap_walrus_reply")
        ok("ListAllMyBuckets over Walrus's S3 SOAP API, authenticated as the administrator")

        driver.get(base + "soap?service=StorageController&operation=GetStorageConfiguration")
        target = Select(driver.find_element(By.ID, "target"))
        assert [o.get_attribute("value") for o in target.options] == [storage_url], \
            [o.get_attribute("value") for o in target.options]
        submit(driver, "form#soap-form")
        reply = text(driver, "#reply-xml")
        # The SC's defaults, as the original's: 50 GB in all, 10 GB a volume.
        assert figure(reply, "MaxTotalVolumeSize") == 50 and figure(reply, "MaxVolumeSize") == 10, reply
        signature = text(driver, "#signature")
        assert signature.startswith("signature valid") and "cloud" in signature, signature
        shot_panels(driver, "console_soap_sc_reply")
        ok("GetStorageConfiguration on the SC, signed with the cloud's key, its reply signed by it")
    finally:
        driver.quit()


def main():
    phase, base, args = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3:]
    {"components": components, "services": services}[phase](base, *args)


if __name__ == "__main__":
    main()
