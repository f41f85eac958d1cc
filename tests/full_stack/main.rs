//! Full-stack tests: the real `freshtoken` binary (or its router) on a real database, talked
//! to over HTTP like a client would. SQLite by default; PostgreSQL when
//! `FRESHTOKEN_TEST_POSTGRES_URL` is set.

mod support;

mod auth;
mod chromium;
mod config;
mod connect;
mod dashboard;
mod delivery;
mod deploy;
mod fake_instagram;
mod health;
mod imports;
mod input;
mod keys;
mod kinds;
mod links;
mod metrics;
mod notifications;
mod operator;
mod sessions;
mod tenants;
mod transfer;
mod worker;
mod year;
