//! sea-orm entities, one per table of `migrations/`. Repositories (`crate::repo`) are the only
//! users: the rest of the program sees the plain records those return.

pub mod account;
pub mod account_media;
pub mod account_request_count;
pub mod api_key;
pub mod connect_link;
pub mod data_deletion_request;
pub mod facebook_login;
pub mod invite;
pub mod membership;
pub mod notification;
pub mod oauth_state;
pub mod refresh_event;
pub mod session;
pub mod tenant;
pub mod token;
pub mod user;
pub mod webhook;
