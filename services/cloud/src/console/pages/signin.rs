//! The sign-in page (the server signs in; see `server::sign_in`).

use maud::{html, Markup};

use crate::console::layout;

/// The form: account, user name (the account's root user when empty), password;
/// `message` says why the last attempt failed.
pub fn page(message: Option<&str>) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            @if let Some(message) = message { p.error id="error" { (message) } }
            form method="post" action="/signin" id="signin" {
                p {
                    label for="account" { "Account" }
                    input type="text" id="account" name="account" required autofocus;
                }
                p {
                    label for="user" { "User name" }
                    input type="text" id="user" name="user" placeholder=(users::ROOT_NAME);
                }
                p {
                    label for="password" { "Password" }
                    input type="password" id="password" name="password" required autocomplete="current-password";
                }
                button type="submit" { "Sign in" }
            }
            p.note {
                "The cloud administrator signs in to account " code { (users::ADMIN_NAME) }
                " with the password the cloud controller wrote to DATA/credentials/admin/console-password."
            }
        },
    )
}
