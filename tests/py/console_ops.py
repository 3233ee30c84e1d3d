"""The console's operations pages in headless Chromium (the harness is browser.py), checked
against boto3 with the same cloud's eucarc files.

Phases (run by tests/console_ops.rs):
  admin BASE PASSWORD ADMIN_DIR USER_DIR S3_URL NODE
      as the cloud administrator: /provisioning shows the CC's node; registers the node NODE
      (HOST:PORT, running, not in the CC's NODES) with it, which the CC then reports and
      polls (DescribeAvailabilityZones verbose counts its room); a node registered with a
      cluster whose CC does not answer is refused with an error page and not recorded;
      changes a VM type (DescribeAvailabilityZones verbose then shows it) and the SC's largest
      volume (CreateVolume is refused over it); the user's volume is listed on /volumes and
      deleted from there; the user runs an
      instance with boto3, which /instances and /instances/ID show; the console terminates it
      and shows it terminated (boto3 agrees); /images disables and enables an image (its
      launch permission, as boto3 reads it); the user's bucket on /buckets with its objects
      and bytes (put with boto3 into the Walrus at S3_URL); /snapshots, /capacity and
      /health (both nodes up). Prints the instance's id last.
  user BASE ACCOUNT PASSWORD INSTANCE OWNS
      as the root user of ACCOUNT: the admin pages are refused (403); /images shows the
      administrator's public images without their buttons; /buckets and /instances list the
      user's bucket and INSTANCE only when OWNS is "own", and INSTANCE's page is 404
      otherwise.
A screenshot of each page visited is saved (browser.shot). Prints one `ok: ...` line per
check; exits non-zero on the first failure.
"""

import re
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser import browser, fill, shot, sign_in, submit
from cloud_clients import ec2, eucarc, expect_error, ok, wait_for
from cloud_identity import s3
from cloud_reconcile import wait as wait_until


def visit(driver, base, path, name):
    """Opens BASE + PATH and saves its screenshot as NAME."""
    driver.get(base.rstrip("/") + path)
    shot(driver, name)


def one(driver, css):
    found = driver.find_elements(By.CSS_SELECTOR, css)
    assert len(found) == 1, "%d elements %s in:\n%s" % (len(found), css, driver.page_source)
    return found[0]


def texts(driver, css):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]


def refused(driver, status):
    """Whether the page is the console's error page for `status` (its title is the reason)."""
    return bool(driver.find_elements(By.ID, "error")) and status in driver.title


def vm_type_line(admin, name):
    """The words of VM type NAME's line in DescribeAvailabilityZones verbose: FREE / MAX
    CORES MEMORY DISK."""
    zones = admin.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    (line,) = [z["State"] for z in zones if z["ZoneName"] == "|- " + name]
    return line.split()


def most_small_instances(admin):
    """How many m1.small instances zone1 could hold."""
    return int(vm_type_line(admin, "m1.small")[2])


def provisioning(driver, base, admin, node):
    visit(driver, base, "/provisioning", "ops-provisioning")
    assert one(driver, '#clusters tr[data-cluster="zone1"] td.state').text == "available"
    reported = texts(driver, '#nodes tr[data-cluster="zone1"] td.reported')
    assert len(reported) == 1 and reported[0].startswith("http://"), reported
    ok("/provisioning lists zone1 and the node its CC reports")

    one_node = wait_until("zone1 counting its node's room", lambda: most_small_instances(admin))
    fill(driver, {"form#add-node input[name=host]": node})
    submit(driver, "form#add-node")
    row = 'tr[data-node="%s"]' % node
    assert one(driver, row + " td.registered").text == "yes", driver.page_source
    assert one(driver, row + " td.reported").text == "http://%s/axis2/services/EucalyptusNC" % node
    shot(driver, "ops-provisioning-node")
    wait_until("zone1 counting the registered node's room",
               lambda: most_small_instances(admin) == 2 * one_node)
    ok("a node registered from the console is reported by its CC at once and its room counted")

    # A cluster whose CC does not answer: the registration fails and nothing is recorded.
    fill(driver, {"form#add-cluster input[name=name]": "zone9",
                  "form#add-cluster input[name=url]": "http://127.0.0.1:9/axis2/services/EucalyptusCC"})
    submit(driver, "form#add-cluster")
    Select(one(driver, "form#add-node select[name=cluster]")).select_by_value("zone9")
    fill(driver, {"form#add-node input[name=host]": "10.9.8.7"})
    submit(driver, "form#add-node")
    assert refused(driver, "Service Unavailable"), driver.page_source
    visit(driver, base, "/provisioning", "ops-provisioning-refused")
    assert not driver.find_elements(By.CSS_SELECTOR, 'tr[data-node="10.9.8.7:8775"]'), driver.page_source
    submit(driver, '#clusters tr[data-cluster="zone9"] form')
    assert not driver.find_elements(By.CSS_SELECTOR, '#clusters tr[data-cluster="zone9"]'), driver.page_source
    ok("a node registered with a CC that does not answer is refused and not recorded")

    form = 'tr[data-vmtype="c1.medium"] form'
    fill(driver, {form + " input[name=cores]": "2", form + " input[name=memory_mb]": "384",
                  form + " input[name=disk_gb]": "6"})
    submit(driver, form)
    assert one(driver, form + " input[name=memory_mb]").get_attribute("value") == "384"
    shot(driver, "ops-provisioning-vmtype")
    line = vm_type_line(admin, "c1.medium")
    assert line[3:] == ["2", "384", "6"], line
    ok("a VM type changed in the console is what DescribeAvailabilityZones verbose shows")


def volumes(driver, base, user):
    visit(driver, base, "/provisioning", "ops-provisioning-storage")
    form = "form#storage-settings"
    fill(driver, {form + " input[name=max_volume_gb]": "3"})
    submit(driver, form)
    assert one(driver, form + " input[name=max_volume_gb]").get_attribute("value") == "3"
    expect_error(lambda: user.create_volume(Size=4, AvailabilityZone="zone1"), "VolumeLimitExceeded", 400)
    ok("the SC's largest volume set in the console is what CreateVolume is refused over")

    vol = user.create_volume(Size=1, AvailabilityZone="zone1")["VolumeId"]

    def state():
        found = user.describe_volumes()["Volumes"]
        return found[0]["State"] if found else None

    wait_until("the volume available", lambda: state() == "available")
    visit(driver, base, "/volumes", "ops-volumes")
    row = 'tr[data-volume="%s"]' % vol
    cells = texts(driver, row + " td")
    assert cells[1:3] == ["bob", "1"] and one(driver, row + " td.state").text == "available", cells
    submit(driver, row + " form")
    shot(driver, "ops-volumes-deleted")
    wait_until("the volume deleted", lambda: state() is None)
    driver.refresh()
    assert not driver.find_elements(By.CSS_SELECTOR, row), driver.page_source
    ok("/volumes lists the user's volume and deletes it")


def instance_lifecycle(driver, base, admin, user):
    emi, eki, eri = (admin.register_image(ImageLocation=f"images/{k}.manifest.xml", Name=k)["ImageId"]
                     for k in ("machine", "kernel", "ramdisk"))
    run = user.run_instances(ImageId=emi, KernelId=eki, RamdiskId=eri, MinCount=1, MaxCount=1,
                             InstanceType="m1.small")
    instance = run["Instances"][0]["InstanceId"]
    assert wait_for(user, instance, "running")["State"]["Name"] == "running"

    visit(driver, base, "/instances?state=running", "ops-instances")
    row = 'tr:has(a[href="/instances/%s"])' % instance
    cells = texts(driver, row + " td")
    assert cells[1:3] == ["bob", "running"] and cells[4] == "zone1", cells
    visit(driver, base, "/instances?account=admin", "ops-instances-admin")
    assert not driver.find_elements(By.CSS_SELECTOR, row), driver.page_source
    ok("/instances shows the user's instance to the administrator, filtered by state and account")

    visit(driver, base, "/instances/" + instance, "ops-instance")
    assert one(driver, 'dd[data-fact="State"]').text == "running"
    assert one(driver, 'dd[data-fact="Account"]').text == "bob"
    one(driver, "#console-output")
    ok("/instances/ID shows the instance and its console output")

    # Its CPU chart fills from the node's samples (node -> CC -> CLC), with no other feed.
    deadline = time.time() + 90
    while not driver.find_elements(By.CSS_SELECTOR, "svg.chart circle.point") and time.time() < deadline:
        time.sleep(1)
        driver.refresh()
    assert driver.find_elements(By.CSS_SELECTOR, "svg.chart circle.point"), driver.page_source
    shot(driver, "ops-instance-cpu-chart")
    ok("the instance's CPU chart fills from its node's samples")

    submit(driver, "form:has(input[name=action][value=terminate])")
    assert one(driver, 'dd[data-fact="State"]').text in ("shutting-down", "terminated"), driver.page_source
    deadline = time.time() + 90
    while one(driver, 'dd[data-fact="State"]').text != "terminated" and time.time() < deadline:
        time.sleep(1)
        driver.refresh()
    assert one(driver, 'dd[data-fact="State"]').text == "terminated", driver.page_source
    assert not driver.find_elements(By.CSS_SELECTOR, "form:has(input[name=action][value=terminate])")
    shot(driver, "ops-instance-terminated")
    assert wait_for(user, instance, "terminated", 0)["State"]["Name"] == "terminated"
    ok("the console terminates the instance and shows it terminated, as DescribeInstances does")
    return instance, emi


def images(driver, base, admin, emi):
    visit(driver, base, "/images", "ops-images")
    row = 'tr[data-image="%s"]' % emi
    assert one(driver, row + " td.permission").text.startswith("public")

    def permission():
        return admin.describe_image_attribute(ImageId=emi, Attribute="launchPermission")["LaunchPermissions"]

    submit(driver, row + " form:has(input[name=action][value=disable])")
    assert one(driver, row + " td.permission").text.startswith("private") and permission() == []
    shot(driver, "ops-images-disabled")
    submit(driver, row + " form:has(input[name=action][value=enable])")
    assert permission() == [{"Group": "all"}], permission()
    ok("/images disables and enables an image: its launch permission for group all")


def buckets(driver, base, user_env, s3_url):
    store = s3(user_env, s3_url)
    store.create_bucket(Bucket="bob-photos")
    store.put_object(Bucket="bob-photos", Key="a.jpg", Body=b"12345")
    store.put_object(Bucket="bob-photos", Key="b.jpg", Body=b"1234567")
    visit(driver, base, "/buckets", "ops-buckets")
    cells = texts(driver, 'tr[data-bucket="bob-photos"] td')
    assert cells[1:4] == ["bob", "2", "12"], cells
    ok("/buckets shows the user's bucket with its objects and bytes, from Walrus's metadata")


def the_rest(driver, base):
    visit(driver, base, "/snapshots", "ops-snapshots")
    assert "No snapshots." in driver.page_source
    visit(driver, base, "/capacity", "ops-capacity")
    room = one(driver, 'tr[data-zone="zone1"] td[data-vmtype="m1.small"]').text
    assert re.fullmatch(r"\d+ / [1-9]\d*", room), room
    visit(driver, base, "/health", "ops-health")
    for kind in ("CLC", "CC", "SC"):
        one(driver, 'tr[data-kind="%s"][data-up="true"]' % kind)
    assert len(texts(driver, 'tr[data-kind="NC"][data-up="true"]')) == 2, driver.page_source
    ok("/snapshots, /capacity (zone1's room) and /health (CLC, CC, both NCs, SC up)")


def as_admin(base, password, admin_dir, user_dir, s3_url, node):
    admin, user = ec2(eucarc(admin_dir)), ec2(eucarc(user_dir))
    driver = browser()
    try:
        sign_in(driver, base, "admin", "admin", password)
        provisioning(driver, base, admin, node)
        volumes(driver, base, user)
        instance, emi = instance_lifecycle(driver, base, admin, user)
        images(driver, base, admin, emi)
        buckets(driver, base, eucarc(user_dir), s3_url)
        the_rest(driver, base)
    finally:
        driver.quit()
    print(instance)


def as_user(base, account, password, instance, owns):
    driver = browser()
    try:
        sign_in(driver, base, account, "admin", password)
        for page in ("provisioning", "capacity", "health"):
            visit(driver, base, "/" + page, "ops-%s-%s-refused" % (account, page))
            assert refused(driver, "Forbidden"), driver.page_source
        ok("%s's root user is refused the admin pages" % account)
        visit(driver, base, "/images", "ops-images-" + account)
        assert driver.find_elements(By.CSS_SELECTOR, "tr[data-image]"), driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, "tr[data-image] form"), driver.page_source
        ok("%s sees the administrator's public images without their buttons" % account)
        visit(driver, base, "/buckets", "ops-buckets-" + account)
        assert bool(driver.find_elements(By.CSS_SELECTOR, 'tr[data-bucket="bob-photos"]')) == (owns == "own")
        visit(driver, base, "/instances", "ops-instances-" + account)
        listed = bool(driver.find_elements(By.CSS_SELECTOR, 'a[href="/instances/%s"]' % instance))
        visit(driver, base, "/instances/" + instance, "ops-instance-" + account)
        if owns == "own":
            assert listed and one(driver, 'dd[data-fact="Account"]').text == account
            ok("%s sees its own instance" % account)
        else:
            assert not listed and refused(driver, "Not Found"), driver.page_source
            ok("%s sees no other account's instance, nor its page" % account)
    finally:
        driver.quit()


def main():
    phase = sys.argv[1]
    if phase == "admin":
        as_admin(*sys.argv[2:8])
    elif phase == "user":
        as_user(*sys.argv[2:7])
    else:
        raise SystemExit("unknown phase " + phase)


if __name__ == "__main__":
    main()
