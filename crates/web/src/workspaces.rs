//! The rules of workspaces that more than one area applies: what a workspace's name and slug
//! may be (and the slugs a name suggests), and whether an invitation can still be used, with
//! the refusals that say why not. The workspaces' routes (`tenants`) create and join
//! workspaces with them, and so does signing up (`auth`), which creates a workspace or joins
//! one by invitation in the same step; the operator's command line checks slugs with them too.

use chrono::Utc;
use freshtoken_store::{Invite, InviteRefused};

use crate::error::ApiError;
use crate::secrets::random_secret;
use crate::state::AppState;

/// Lower-case letters, digits and single dashes, from any name.
fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(48).collect();
    if slug.is_empty() {
        "workspace".to_owned()
    } else {
        slug.trim_end_matches('-').to_owned()
    }
}

pub fn check_slug(slug: &str) -> Result<(), ApiError> {
    let valid = (2..=48).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "slug must be 2 to 48 lower-case letters, digits or dashes, not starting or ending with a dash",
        ))
    }
}

/// Checks a workspace's name and returns it trimmed.
pub(crate) fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    Ok(name)
}

/// The slugs a workspace called `name` may take, best first: its name's, then that with a
/// random suffix, for when the name's is taken.
pub(crate) fn slug_candidates(name: &str) -> Vec<String> {
    let base = slugify(name);
    let suffixed = (1..5).map(|_| {
        format!(
            "{base}-{}",
            &random_secret()[..6].to_lowercase().replace(['-', '_'], "x")
        )
    });
    std::iter::once(base.clone()).chain(suffixed).collect()
}

pub(crate) fn no_free_slug() -> ApiError {
    ApiError::Conflict("could not find a free slug: give one".into())
}

pub(crate) fn refused(reason: InviteRefused) -> ApiError {
    ApiError::BadRequest {
        code: "invite_refused",
        message: reason.to_string(),
    }
}

/// Refuses an unknown, used or expired invite before anything is written.
pub(crate) async fn check_invite(
    state: &AppState,
    secret_sha256: &str,
) -> Result<Invite, ApiError> {
    let invite = state
        .store
        .invites()
        .by_hash(secret_sha256)
        .await?
        .ok_or(refused(InviteRefused::Unknown))?;
    if invite.used_at.is_some() {
        return Err(refused(InviteRefused::Used));
    }
    if invite.expires_at <= Utc::now() {
        return Err(refused(InviteRefused::Expired));
    }
    Ok(invite)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_derived_from_any_name() {
        assert_eq!(slugify("Ada's Bakery!"), "ada-s-bakery");
        assert_eq!(slugify("  ---  "), "workspace");
        assert_eq!(slugify("Café Zürich"), "caf-z-rich");
        assert!(check_slug(&slugify(&"x".repeat(100))).is_ok());
    }
}
