"""The console's monitoring pages in a real browser (Chromium through Selenium): an
instance's samples of the last 2.5 hours are put through the CloudWatch API, then the cloud
administrator and the instance's owner see it in /monitoring with its alarm, and its five
charts in /monitoring/{id}; another account sees neither. A screenshot of each page
visited goes to $EUCA_SCREENSHOTS (see browser.py).

Usage (run by tests/console_monitoring.rs):
  console_monitoring.py CONSOLE_URL ADMIN_PASSWORD ADMIN_DIR USER_DIR OTHER_DIR INSTANCE
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import datetime
import sys

import boto3
from botocore.config import Config
from selenium.webdriver.common.by import By

from browser import browser, shot, sign_in
from cloud_clients import eucarc, ok
from cloud_cloudwatch import METRICS, cloudwatch, dims

# Five-minute periods charted.
PERIODS = 30
PASSWORD = "monitoring-pass-1"


def feed(admin, instance):
    """One sample per metric in each of the last PERIODS periods: CPU rising and falling."""
    now = datetime.datetime.now(datetime.timezone.utc)
    data = []
    for k in range(PERIODS):
        at = now - datetime.timedelta(minutes=5 * k)
        cpu = 10.0 + (k % 10) * 8.0
        data.append({"MetricName": "CPUUtilization", "Dimensions": dims(instance), "Timestamp": at,
                     "Value": cpu, "Unit": "Percent"})
        for metric in METRICS[1:]:
            data.append({"MetricName": metric, "Dimensions": dims(instance), "Timestamp": at,
                         "Value": 1024.0 * (k + 1), "Unit": "Bytes"})
    admin.put_metric_data(Namespace="AWS/EC2", MetricData=data)
    ok(f"{len(data)} samples of the last {PERIODS * 5} minutes put")


def console_password(folder):
    """Gives the account's root user of eucarc FOLDER a console password (IAM's
    CreateLoginProfile)."""
    env = eucarc(folder)
    iam = boto3.client("iam", endpoint_url=env["EC2_URL"].replace("/services/Eucalyptus", "/services/Euare"),
                       aws_access_key_id=env["EC2_ACCESS_KEY"], aws_secret_access_key=env["EC2_SECRET_KEY"],
                       region_name=env["AWS_DEFAULT_REGION"], config=Config(retries={"max_attempts": 1}))
    iam.create_login_profile(UserName="admin", Password=PASSWORD)


def main_text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


def charts(driver, base, instance, name):
    driver.get(f"{base}monitoring/{instance}")
    shot(driver, name)
    assert not driver.find_elements(By.ID, "error"), driver.page_source
    figures = driver.find_elements(By.CSS_SELECTOR, "figure.metric")
    assert [f.get_attribute("id") for f in figures] == METRICS, driver.page_source
    for figure in figures:
        assert figure.find_elements(By.CSS_SELECTOR, "svg.chart polyline.series"), figure.get_attribute("id")
    line = driver.find_element(By.CSS_SELECTOR, "figure#CPUUtilization polyline.series")
    vertices = line.get_attribute("points").split()
    # The last three hours hold every period put.
    assert len(vertices) == PERIODS, vertices
    assert "%" in driver.find_element(By.CSS_SELECTOR, "figure#CPUUtilization svg").text


def main(base, admin_password, admin_dir, user_dir, other_dir, instance):
    base = base.rstrip("/") + "/"
    admin = cloudwatch(eucarc(admin_dir))
    feed(admin, instance)
    user = cloudwatch(eucarc(user_dir))
    user.put_metric_alarm(AlarmName="hot", MetricName="CPUUtilization", Namespace="AWS/EC2",
                          Statistic="Average", Dimensions=dims(instance), Period=300, EvaluationPeriods=1,
                          Threshold=5.0, ComparisonOperator="GreaterThanThreshold")
    for folder in (user_dir, other_dir):
        console_password(folder)

    driver = browser()
    try:
        sign_in(driver, base, "admin", "admin", admin_password)
        driver.get(base + "monitoring")
        shot(driver, "monitoring-admin-list")
        assert driver.find_elements(By.LINK_TEXT, instance), driver.page_source
        alarms = driver.find_element(By.ID, "alarms").text
        assert "hot" in alarms and "ALARM" in alarms, alarms
        ok("the administrator sees the instance and its alarm (ALARM) in /monitoring")
        driver.find_element(By.CSS_SELECTOR, "table#instances a").click()
        charts(driver, base, instance, "monitoring-admin-instance")
        ok(f"/monitoring/{instance}: five charts, CPU's line through {PERIODS} points")
    finally:
        driver.quit()

    # A user's credentials folder is named after their account.
    account = user_dir.rstrip("/").split("/")[-1]
    driver = browser()
    try:
        sign_in(driver, base, account, "admin", PASSWORD)
        driver.get(base + "monitoring")
        shot(driver, "monitoring-owner-list")
        assert driver.find_elements(By.LINK_TEXT, instance), driver.page_source
        charts(driver, base, instance, "monitoring-owner-instance")
        ok("the instance's account sees it and its charts")
    finally:
        driver.quit()

    other = other_dir.rstrip("/").split("/")[-1]
    driver = browser()
    try:
        sign_in(driver, base, other, "admin", PASSWORD)
        driver.get(base + "monitoring")
        shot(driver, "monitoring-other-list")
        assert not driver.find_elements(By.LINK_TEXT, instance), driver.page_source
        assert "hot" not in main_text(driver)
        driver.get(f"{base}monitoring/{instance}")
        shot(driver, "monitoring-other-instance")
        assert driver.find_elements(By.ID, "error"), driver.page_source
        assert not driver.find_elements(By.CSS_SELECTOR, "svg.chart")
        ok("another account sees neither the instance nor its alarm, and its charts are not found")
    finally:
        driver.quit()


if __name__ == "__main__":
    main(*sys.argv[1:])
