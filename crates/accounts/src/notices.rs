//! What the people of a workspace (and an account's owner) are told about an account: the
//! announcements of a connection and of an account that needs reconnecting, with their
//! e-mails. The worker (a refresh refused for good), the web side (Meta's deauthorize) and
//! connecting all announce through here, so each event reads the same whoever raises it.

use freshtoken_store::{
    Account, Announcement, EmailMessage, RECONNECT_LINK_DAYS, RECONNECT_URL, UNSUBSCRIBE_TOKEN,
};
use serde_json::json;

use crate::Via;

/// Who an event is about; never the token.
pub fn account_json(account: &Account) -> serde_json::Value {
    json!({
        "id": account.id,
        "kind": account.kind.as_str(),
        "username": account.username,
        "label": account.label,
        "public_id": account.public_id,
    })
}

/// `account.needs_reconnect`: the webhook carries the account's reconnect link, the workspace's
/// owners get an e-mail with it, and so does the account's owner, in their own words (when the
/// instance sends `emails`). The link is written in as each is sent (see [`RECONNECT_URL`]).
pub fn needs_reconnect(
    account: &Account,
    reason: &str,
    public_url: &str,
    emails: bool,
) -> Announcement {
    Announcement {
        event: "account.needs_reconnect".to_owned(),
        data: json!({
            "account": account_json(account),
            "reason": reason,
            "reconnect_url": RECONNECT_URL,
        }),
        email: emails.then(|| needs_reconnect_email(account, reason, public_url)),
        owner_email: emails.then(|| owner_needs_reconnect_email(account, public_url)),
    }
}

/// `@user` for a profile, the Page's name for a Page, with the tenant's label.
pub fn name_with_label(account: &Account) -> String {
    let name = account.display_name();
    if account.label.is_empty() {
        name
    } else {
        format!("{name} ({})", account.label)
    }
}

fn needs_reconnect_email(account: &Account, reason: &str, public_url: &str) -> EmailMessage {
    let name = name_with_label(account);
    EmailMessage {
        subject: format!(
            "{} account {name} needs to be connected again",
            account.kind.display_name()
        ),
        body: format!(
            "freshtoken can no longer keep the token of {name} alive: {reason}\n\n\
             Websites that use this account's token get none until it is connected again.\n\
             Whoever can log in to the account reconnects it, without signing in here, at\n\n  {RECONNECT_URL}\n\n\
             (send them this link: it works for {RECONNECT_LINK_DAYS} days, only for {name}, and the websites need no change),\n\
             or sign in and connect the account again:\n\n  {public_url}/\n\n\
             This is the only message you will get about this until the account is reconnected.\n"
        ),
    }
}

/// The e-mail to the account's owner (the client, who may never have heard of freshtoken):
/// what happened in plain words, the one link that fixes it, and a way to stop these.
fn owner_needs_reconnect_email(account: &Account, public_url: &str) -> EmailMessage {
    let name = account.display_name();
    let platform = account.kind.platform();
    // The store fills in the token as it addresses the e-mail (see UNSUBSCRIBE_TOKEN).
    let unsubscribe = format!(
        "\nYou get this e-mail because your address was given as the owner of {name}. \
         To get no more of them:\n\n  {public_url}/unsubscribe/{UNSUBSCRIBE_TOKEN}\n"
    );
    EmailMessage {
        subject: format!("Please log in to {platform} again for {name}"),
        body: format!(
            "Hello,\n\n\
             your website shows posts of {name}, and it stopped being able to: {platform} asks \
             the account's owner to log in again. This happens after a password change, for \
             example, or when access was removed in {platform}'s settings.\n\n\
             To fix it, open this link and log in to {platform} as {name}. It takes a minute, \
             and nothing on your website needs to change:\n\n  {RECONNECT_URL}\n\n\
             The link works for {RECONNECT_LINK_DAYS} days and only for {name}. If you did not expect this, \
             tell the people who look after your website.\n{unsubscribe}"
        ),
    }
}

/// What the tenant hears of a connection: an `account.connected` webhook, and, when the
/// account's owner connected it through a link and the instance sends `emails`, an e-mail to
/// the workspace's owners.
pub fn connected_announcement(
    account: &Account,
    created: bool,
    via: Via,
    emails: bool,
) -> Announcement {
    let name = account.display_name();
    let email = (via == Via::Link && emails).then(|| EmailMessage {
        subject: if created {
            format!("{name} was connected through your link")
        } else {
            format!("{name} was reconnected through your link")
        },
        body: format!(
            "The owner of the {} account {name} {} it through a link you sent.\n\n\
             Its token URLs work now{}; freshtoken keeps the token fresh from here.\n",
            account.kind.display_name(),
            if created { "connected" } else { "reconnected" },
            if created { "" } else { ", unchanged" },
        ),
    });
    Announcement {
        event: "account.connected".to_owned(),
        data: json!({
            "account": account_json(account),
            "created": created,
            "via": match via {
                Via::Member => "member",
                Via::Link => "link",
            },
        }),
        email,
        owner_email: None,
    }
}
