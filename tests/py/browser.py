"""The console's browser harness: Selenium driving Debian's Chromium (/usr/bin/chromium and
/usr/bin/chromedriver, headless), shared by every tests/py/console_*.py.

    driver = browser()
    sign_in(driver, "https://127.0.0.1:PORT/", "admin", "admin", password)
    driver.get(base + "users"); shot(driver, "users")
    submit(driver, "form#create-user")   # submits a form, waits for the next page
    click(driver, button)                # clicks, waits for the next page

The console's certificate is issued by the test cloud's own certificate, which Chromium
does not know: the driver accepts it (it talks only to the test's loopback console; the
requests-based tests verify the chain against KEYS/cloud-cert.pem).
"""

import os

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# What a page may take to load or change.
PATIENCE = 20
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def screenshots():
    """Where shot() saves: $EUCA_SCREENSHOTS, else target/screenshots/ of the workspace."""
    folder = os.environ.get("EUCA_SCREENSHOTS") or os.path.join(ROOT, "target", "screenshots")
    os.makedirs(folder, exist_ok=True)
    return folder


def browser():
    """A headless Chromium, its window 1280x1024."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,1024",
    ):
        options.add_argument(flag)
    options.accept_insecure_certs = True
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PATIENCE)
    return driver


def shot(driver, name):
    """Saves the page as NAME.png in screenshots(); returns the file's path."""
    path = os.path.join(screenshots(), name + ".png")
    if not driver.save_screenshot(path):
        raise AssertionError("no screenshot saved at " + path)
    return path


def click(driver, element):
    """Clicks `element` (a button, a link) and waits until the browser has left the page."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, PATIENCE).until(lambda _: gone(old))


def gone(element):
    """Whether `element` has left the page. Chromium, asked while it swaps documents, may
    answer that the element "does not belong to the document" rather than that it is stale:
    gone too (regression: a submit failed on that answer)."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in e.msg:
            return True
        raise


def submit(driver, form_css):
    """Submits the form `form_css` selects with its submit button, and waits for the next
    page."""
    form = driver.find_element(By.CSS_SELECTOR, form_css)
    click(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def fill(driver, values):
    """Types each value into the field its CSS selector names (clearing it first)."""
    for css, value in values.items():
        field = driver.find_element(By.CSS_SELECTOR, css)
        field.clear()
        field.send_keys(value)


def sign_in(driver, base, account, user, password):
    """Signs in at BASE/signin; fails unless the console then shows its dashboard."""
    driver.get(base.rstrip("/") + "/signin")
    fill(driver, {"#account": account, "#user": user, "#password": password})
    submit(driver, "form#signin")
    if driver.find_elements(By.ID, "error") or not driver.find_elements(By.ID, "signout"):
        raise AssertionError("sign-in as %s/%s failed:\n%s" % (account, user, driver.page_source))
