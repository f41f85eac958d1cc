//! Checks of the account settings people type, shared by the routes that change an account and
//! those that make connect links (whose presets become an account's settings), so that both
//! refuse the same things with the same words.

use freshtoken_core::AccountKind;
use freshtoken_core::js::check_constant_name;
use freshtoken_core::origin::{OriginPattern, parse_allowed_origins};

use crate::caller::Access;
use crate::error::ApiError;

pub const MAX_LABEL_CHARS: usize = 100;

pub fn require_editor(access: &Access) -> Result<(), ApiError> {
    if access.role.can_edit() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "viewers can look but not change: ask an owner for the editor role".into(),
        ))
    }
}

pub fn check_label(label: &str) -> Result<String, ApiError> {
    let label = label.trim();
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "label must be at most {MAX_LABEL_CHARS} characters, without control characters"
        )));
    }
    Ok(label.to_owned())
}

pub fn check_origins(origins: &[String]) -> Result<Vec<OriginPattern>, ApiError> {
    parse_allowed_origins(origins).map_err(|err| ApiError::invalid(err.to_string()))
}

/// The constant `token.js` defines: `None` for the kind's default (empty, or its name).
pub fn check_js_constant(name: &str, kind: AccountKind) -> Result<Option<String>, ApiError> {
    let name = name.trim();
    if name.is_empty() || name == kind.default_constant() {
        return Ok(None);
    }
    check_constant_name(name)
        .map_err(|err| ApiError::invalid(format!("js_constant {name:?} cannot be used: {err}")))?;
    Ok(Some(name.to_owned()))
}

/// The account owner's contact address: `None` for an empty one (none).
pub fn check_owner_email(email: &str) -> Result<Option<String>, ApiError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    if !freshtoken_core::is_email_address(email) {
        return Err(ApiError::invalid(
            "owner_email must be an e-mail address such as client@example.com, or empty for none",
        ));
    }
    Ok(Some(email.to_owned()))
}
