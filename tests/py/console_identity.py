"""The console's identity pages in a real browser (Chromium through Selenium): the cloud
administrator signs in, creates an account and a user, sets the user's password, makes a
group with the user in it, attaches a policy (a malformed one is refused), sets a quota;
then the user signs in and sees their own account only, read-only. A screenshot of each
page visited goes to $EUCA_SCREENSHOTS (see browser.py).

Usage (run by tests/console_identity.rs): console_identity.py CONSOLE_URL ADMIN_PASSWORD
Prints one `ok: ...` line per check; exits non-zero on the first failure.
"""

import json
import sys

from selenium.webdriver.common.by import By

from browser import browser, fill, shot, sign_in, submit
from cloud_clients import ok

ACCOUNT = "acme"
USER = "dev"
PASSWORD = "dev-console-pass-1"


def text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


def visit(driver, base, path, name):
    driver.get(base + path.lstrip("/"))
    shot(driver, "identity-" + name)
    assert not driver.find_elements(By.ID, "error"), driver.page_source


def as_admin(driver, base, password):
    sign_in(driver, base, "admin", "admin", password)
    shot(driver, "identity-admin-dashboard")
    assert "cloud administrator" in driver.find_element(By.TAG_NAME, "header").text
    ok("the administrator signs in with the password the cloud wrote")

    visit(driver, base, "/accounts", "accounts")
    fill(driver, {"#name": ACCOUNT, "#email": "ops@acme.example"})
    submit(driver, "form#create-account")
    shot(driver, "identity-accounts-created")
    assert driver.find_elements(By.LINK_TEXT, ACCOUNT), driver.page_source
    ok("an account is created from /accounts")

    visit(driver, base, "/users?account=" + ACCOUNT, "users")
    fill(driver, {"#name": USER})
    submit(driver, "form#create-user")
    assert driver.find_elements(By.ID, "user-" + USER), driver.page_source
    fill(driver, {"form#password-%s input[name=password]" % USER: PASSWORD})
    submit(driver, "form#password-" + USER)
    shot(driver, "identity-users-password-set")
    row = driver.find_element(By.ID, "user-" + USER).text
    assert "set " in row and "none" not in row.split("\n")[0], row
    ok("a user is created in the account and given a password from /users")

    visit(driver, base, "/groups?account=" + ACCOUNT, "groups")
    fill(driver, {"#name": "devs"})
    submit(driver, "form#create-group")
    fill(driver, {"form#add-devs input[name=user]": USER})
    submit(driver, "form#add-devs")
    shot(driver, "identity-groups-member")
    assert USER in driver.find_element(By.ID, "group-devs").text
    ok("a group is created and the user added to it from /groups")

    visit(driver, base, "/policies?account=" + ACCOUNT, "policies")
    fill(driver, {"#who": USER, "#name": "broken", "#document": "{not json"})
    submit(driver, "form#put-policy")
    shot(driver, "identity-policies-malformed")
    error = driver.find_element(By.ID, "error").text
    assert "malformed policy document" in error, error
    document = {"Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
    visit(driver, base, "/policies?account=" + ACCOUNT, "policies-again")
    fill(driver, {"#who": USER, "#name": "describe", "#document": json.dumps(document)})
    submit(driver, "form#put-policy")
    shot(driver, "identity-policies-attached")
    assert "ec2:Describe*" in driver.find_element(By.ID, "policies").text
    ok("a policy is attached to the user; a malformed one is refused with the parser's reason")

    visit(driver, base, "/quotas?account=" + ACCOUNT, "quotas")
    driver.find_element(By.CSS_SELECTOR, "#resource option[value=instances]").click()
    fill(driver, {"#limit": "2"})
    submit(driver, "form#set-quota")
    shot(driver, "identity-quotas-set")
    assert "2 instances" in driver.find_element(By.ID, "quotas").text, text(driver)
    ok("a quota of 2 instances is set for the account from /quotas")

    visit(driver, base, "/accounts/" + ACCOUNT, "account")
    page = text(driver)
    assert USER in page and "devs" in page and "2 instances" in page, page
    ok("/accounts/acme shows its users, groups and quotas")

    submit(driver, "header form")
    assert driver.current_url.endswith("/signin"), driver.current_url
    ok("the administrator signs out")


def as_user(driver, base):
    sign_in(driver, base, ACCOUNT, USER, PASSWORD)
    shot(driver, "identity-user-dashboard")
    nav = driver.find_element(By.TAG_NAME, "nav").text
    assert "Accounts" not in nav and "Users" in nav, nav
    visit(driver, base, "/users", "user-users")
    assert driver.find_element(By.ID, "account").text == ACCOUNT
    assert not driver.find_elements(By.ID, "create-user"), "an ordinary user may not create users"
    assert driver.find_elements(By.ID, "password-" + USER), "a user may set their own password"
    visit(driver, base, "/quotas", "user-quotas")
    assert "2 instances" in text(driver) and not driver.find_elements(By.ID, "set-quota")
    driver.get(base + "accounts")
    shot(driver, "identity-user-accounts-forbidden")
    assert "not allowed" in driver.find_element(By.ID, "error").text
    ok("the user sees their own account read-only, and not the administrator's pages")


def main(base, password):
    driver = browser()
    try:
        as_admin(driver, base, password)
        as_user(driver, base)
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
