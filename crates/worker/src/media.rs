//! The media sync job: reads an account's recent posts, for `GET /t/{public_id}/media.json`, so
//! that a website can show a feed without ever holding the token. An Instagram account's posts
//! come from Instagram; a Threads profile's from Threads, in Threads' own field names (`text`,
//! `shortcode`, ...); a Facebook Page's are the posts of the Instagram account linked to it
//! (none when none is).

use freshtoken_core::{AccessToken, AccountKind, AccountStatus};
use freshtoken_meta::{MediaPage, MetaClients, MetaError};
use freshtoken_store::{Account, StoreError};
use serde_json::{Value, json};

use crate::{Engine, WorkerError};

/// How many recent posts are kept.
pub const MEDIA_ITEMS: u32 = 25;

pub(crate) async fn sync(engine: &Engine, account_id: i64) -> Result<(), WorkerError> {
    let store = engine.store();
    let account = match store.accounts().by_id(account_id).await {
        Ok(account) => account,
        Err(StoreError::NotFound) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    if account.status != AccountStatus::Active {
        return Ok(());
    }
    let token = match store.tokens().read(account_id).await {
        Ok(token) => token,
        Err(StoreError::NotFound) => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    match recent_posts(engine.meta(), &account, &token.token).await {
        Ok(items) => {
            let items = Value::from(items).to_string();
            store
                .media()
                .save(account_id, &items, engine.clock().now())
                .await?;
            engine.metrics().media_sync("synced");
        }
        // The refresh job owns the account's status; a failed sync waits for the next round.
        Err(error) => {
            tracing::warn!(account_id, %error, "media sync failed");
            engine.metrics().media_sync("failed");
        }
    }
    Ok(())
}

/// The account's recent posts, as media.json serves them.
async fn recent_posts(
    meta: &MetaClients,
    account: &Account,
    token: &AccessToken,
) -> Result<Vec<Value>, MetaError> {
    match account.kind {
        AccountKind::Instagram => Ok(instagram_items(
            meta.instagram.media(token, None, MEDIA_ITEMS).await?,
        )),
        AccountKind::FacebookPage => match &account.linked_instagram_id {
            Some(linked) => Ok(instagram_items(
                meta.facebook
                    .instagram_media(linked, token, None, MEDIA_ITEMS)
                    .await?,
            )),
            None => Ok(Vec::new()),
        },
        AccountKind::Threads => {
            let page = meta.threads.posts(token, None, MEDIA_ITEMS).await?;
            Ok(page
                .items
                .into_iter()
                .filter_map(|post| serde_json::to_value(post).ok())
                .collect())
        }
    }
}

fn instagram_items(page: MediaPage) -> Vec<Value> {
    page.items
        .into_iter()
        .map(|item| {
            json!({
                "id": item.id,
                "caption": item.caption,
                "media_type": item.media_type,
                "media_url": item.media_url,
                "thumbnail_url": item.thumbnail_url,
                "permalink": item.permalink,
                "timestamp": item.timestamp,
            })
        })
        .collect()
}
