"""The console's SLA page (`/sla`, issue 18) in Chromium: the administrator sets an account's
SLA with the form, sees it listed, is told why a change naming an unknown zone is refused,
and clears it. A screenshot of each page visited.

    console_sla.py BASE_URL ADMIN_PASSWORD
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from browser import browser, fill, shot, sign_in, submit


def ok(what):
    print("ok:", what, flush=True)


def set_sla(driver, base, values, placement="", burst=""):
    driver.get(base + "sla")
    fill(driver, values)
    if placement:
        Select(driver.find_element(By.ID, "placement")).select_by_value(placement)
    if burst:
        Select(driver.find_element(By.ID, "burst")).select_by_value(burst)
    submit(driver, "form#set-sla")


def main():
    base, password = sys.argv[1].rstrip("/") + "/", sys.argv[2]
    driver = browser()
    try:
        sign_in(driver, base, "admin", "admin", password)
        driver.get(base + "sla")
        assert driver.find_elements(By.CSS_SELECTOR, "nav a[href='/sla']"), driver.page_source
        assert not driver.find_elements(By.ID, "sla-a"), driver.page_source
        shot(driver, "sla-empty")
        ok("the administrator's navigation has SLAs; no account has one")

        set_sla(driver, base, {"#account": "a", "#reserve": "zone1:m1.small:2", "#priority": "5",
                               "#floor": "m1.small:1", "#webhook": "http://127.0.0.1:9/alerts"},
                placement="GREEDY", burst="never")
        row = driver.find_element(By.ID, "sla-a").text
        for line in ["priority 5", "placement GREEDY", "burst never", "webhook http://127.0.0.1:9/alerts",
                     "reserve zone1:m1.small:2", "floor m1.small:1"]:
            assert line in row, (line, row)
        shot(driver, "sla-set")
        ok("the set form makes account a's SLA, listed line by line")

        set_sla(driver, base, {"#account": "a", "#reserve": "zone9:m1.small:1"})
        error = driver.find_element(By.ID, "error").text
        assert 'there is no zone "zone9"' in error, error
        shot(driver, "sla-refused")
        driver.get(base + "sla")
        assert "reserve zone1:m1.small:2" in driver.find_element(By.ID, "sla-a").text
        ok("a change naming an unknown zone is refused with the reason, and changes nothing")

        set_sla(driver, base, {"#account": "b", "#priority": "1"})
        submit(driver, "tr#sla-a form")
        assert not driver.find_elements(By.ID, "sla-a"), driver.page_source
        assert "priority 1" in driver.find_element(By.ID, "sla-b").text
        shot(driver, "sla-cleared")
        ok("Clear removes account a's SLA; b's stays")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
