//! `/cdn/{file}`: the pictures the fake's posts and profiles point at, so that a feed built on
//! it (the dashboard's preview, instafeed.js in the demo) shows real images, as Instagram's CDN
//! would serve them: JPEG, cached for a year, readable from any origin.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Shared;

/// Six posts (the sixth is a video's thumbnail) and four profile pictures, made for the fake.
const PICTURES: [(&str, &[u8]); 10] = [
    ("post-1.jpg", include_bytes!("../pictures/post-1.jpg")),
    ("post-2.jpg", include_bytes!("../pictures/post-2.jpg")),
    ("post-3.jpg", include_bytes!("../pictures/post-3.jpg")),
    ("post-4.jpg", include_bytes!("../pictures/post-4.jpg")),
    ("post-5.jpg", include_bytes!("../pictures/post-5.jpg")),
    ("post-6.jpg", include_bytes!("../pictures/post-6.jpg")),
    ("avatar-1.jpg", include_bytes!("../pictures/avatar-1.jpg")),
    ("avatar-2.jpg", include_bytes!("../pictures/avatar-2.jpg")),
    ("avatar-3.jpg", include_bytes!("../pictures/avatar-3.jpg")),
    ("avatar-4.jpg", include_bytes!("../pictures/avatar-4.jpg")),
];

/// How many of [`PICTURES`] are posts that are photos (`post-1` to `post-5`), and the video
/// thumbnail.
pub const PHOTOS: u64 = 5;
pub const VIDEO_THUMBNAIL: &str = "/cdn/post-6.jpg";
pub const AVATARS: u64 = 4;

pub fn routes() -> Router<Shared> {
    Router::new().route("/cdn/{file}", get(picture))
}

async fn picture(Path(file): Path<String>) -> Response {
    match PICTURES.iter().find(|(name, _)| *name == file) {
        Some((_, bytes)) => (
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such picture").into_response(),
    }
}
