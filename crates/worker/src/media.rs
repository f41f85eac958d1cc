//! The media sync job: reads an account's recent posts, for `GET /t/{public_id}/media.json`, so
//! that a website can show a feed without ever holding the token.

use freshtoken_core::AccountStatus;
use freshtoken_store::StoreError;
use serde_json::json;

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
    match engine
        .instagram()
        .media(&token.token, None, MEDIA_ITEMS)
        .await
    {
        Ok(page) => {
            let items: Vec<_> = page
                .items
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
                .collect();
            let items = serde_json::Value::from(items).to_string();
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
