"""The command line of the Walrus scripts that act as several users: --endpoint URL and
--users FILE, a file of `NAME ACCESS_KEY SECRET_KEY EMAIL` lines (walrus_support::add_users)."""

import argparse


def endpoint_and_users():
    """The endpoint, and the users by name as {"access", "secret", "email"}."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--users", required=True)
    args = parser.parse_args()
    users = {}
    with open(args.users) as f:
        for line in f:
            name, access, secret, email = line.split()
            users[name] = {"access": access, "secret": secret, "email": email}
    return args.endpoint, users
