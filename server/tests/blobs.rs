//! Photos and attachments (`/v1/blobs/{sha256}`) through the HTTP API,
//! without a socket: resumable upload, verification, deduplication, the
//! size limit, thumbnails, and who may read a photo. The same suite runs
//! on the embedded SQLite deployment (blob files) and, when
//! `GRIDSYNC_TEST_DATABASE_URL` is set, on PostgreSQL (blobs in the
//! database).

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gridsync_core::clock::Clock;
use gridsync_core::issue::NewIssue;
use gridsync_core::{OpenOptions, Store};
use gridsync_server::principal::Role;
use gridsync_server::store::IncomingChange;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::store::{G1, guard, principal};
use crate::support::{COMMUNITY, G3, TestServer, device};

/// A small real photo: a JPEG of `w`×`h` pixels, with a pattern seeded by
/// `seed` so that different seeds give different bytes.
pub(crate) fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(3).wrapping_add(seed),
            (y as u8).wrapping_mul(5),
            seed.wrapping_mul(7) ^ (x ^ y) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

fn sha(data: &[u8]) -> String {
    gridsync_server::blobs::sha256_hex(data)
}

/// One request; status, headers and body.
async fn req(
    s: &TestServer,
    method: &str,
    uri: &str,
    token: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        r = r.header(*k, v);
    }
    let res = gridsync_server::app(s.state.clone())
        .oneshot(r.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 26)
        .await
        .unwrap()
        .to_vec();
    (status, headers, bytes)
}

fn json_of(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or(Value::Null)
}

async fn begin(
    s: &TestServer,
    token: &str,
    hash: &str,
    doc: &str,
    size: usize,
) -> (StatusCode, Value) {
    let (st, _, b) = req(
        s,
        "PUT",
        &format!("/v1/blobs/{hash}"),
        token,
        &[("content-type", "application/json".into())],
        json!({"doc": doc, "size": size}).to_string().into_bytes(),
    )
    .await;
    (st, json_of(&b))
}

async fn chunk(
    s: &TestServer,
    token: &str,
    hash: &str,
    offset: usize,
    data: &[u8],
) -> (StatusCode, Value) {
    let (st, _, b) = req(
        s,
        "PATCH",
        &format!("/v1/blobs/{hash}"),
        token,
        &[
            ("content-type", "application/offset+octet-stream".into()),
            ("upload-offset", offset.to_string()),
        ],
        data.to_vec(),
    )
    .await;
    (st, json_of(&b))
}

async fn head_offset(s: &TestServer, token: &str, hash: &str) -> (StatusCode, Option<u64>) {
    let (st, h, _) = req(s, "HEAD", &format!("/v1/blobs/{hash}"), token, &[], vec![]).await;
    let off = h
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (st, off)
}

/// A worker's phone reports an issue in grid 1 listing `photos`; its
/// change is stored on the server. Returns the report's id.
async fn report_on_server(s: &TestServer, photos: &[&str]) -> String {
    let mut phone = Store::open_in_memory(OpenOptions {
        clock: Clock::System,
        ..OpenOptions::default()
    })
    .unwrap();
    // The author the server expects: the pusher's own user and role.
    let pusher = principal(Role::GridWorker, &[G1]);
    phone
        .set_author(gridsync_core::doc::Author {
            user: pusher.user_id.clone(),
            role: pusher.role.code().into(),
        })
        .unwrap();
    phone
        .create_grid(gridsync_core::grid::NewGrid {
            code: G1.into(),
            name: "第一网格".into(),
            community: "幸福社区".into(),
            street: "建国门街道".into(),
        })
        .unwrap();
    let before = phone.outbox(1000).unwrap().len();
    let id = phone
        .report_issue(NewIssue {
            grid: G1.into(),
            category: "safety".into(),
            subtype: phone_subtype(),
            description: "楼道堆放杂物，有消防隐患".into(),
            source: "patrol".into(),
            photos: photos.iter().map(|p| p.to_string()).collect(),
            ..NewIssue::default()
        })
        .unwrap();
    let changes: Vec<IncomingChange> = phone
        .outbox(1000)
        .unwrap()
        .into_iter()
        .skip(before)
        .map(|e| IncomingChange {
            doc_id: e.doc_id,
            data: e.data,
        })
        .collect();
    let out = s
        .state
        .docs
        .push(changes, Some("w1".into()), None, guard(pusher))
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    id
}

/// A subtype of `safety` from the catalogue.
fn phone_subtype() -> String {
    gridsync_core::issue::catalogue::category("safety")
        .unwrap()
        .subtypes[0]
        .code
        .to_string()
}

/// The whole suite, on `s` (territory imported).
async fn suite(s: TestServer) {
    s.add_user("worker1", Role::GridWorker, &[G1], None).await;
    s.add_user("worker9", Role::GridWorker, &[G3], None).await;
    s.add_user("sup", Role::Supervisor, &[], Some(COMMUNITY))
        .await;
    let w1 = s.tokens("worker1", &device()).await.0;
    let w9 = s.tokens("worker9", &device()).await.0;
    let sup = s.tokens("sup", &device()).await.0;

    let photo = jpeg(640, 480, 1);
    let h = sha(&photo);
    let other = sha(b"not listed anywhere");
    let doc = report_on_server(&s, &[&h]).await;

    // Begin: the report must be on the server, readable, and list the photo.
    let (st, b) = begin(&s, &w1, &h, &gridsync_core::doc::new_id(), photo.len()).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b}");
    let (st, b) = begin(&s, &w9, &h, &doc, photo.len()).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{b}");
    let (st, b) = begin(&s, &w1, &other, &doc, 19).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    let (st, b) = begin(&s, &w1, "abc", &doc, 3).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");

    // Too large: a clear error, nothing stored.
    let big = gridsync_server::blobs::DEFAULT_MAX_BLOB_BYTES as usize + 1;
    let (st, b) = begin(&s, &w1, &h, &doc, big).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert_eq!(b["error"], "too_large");
    assert!(b["message"].as_str().unwrap().contains("最大10 MB"), "{b}");
    assert_eq!(head_offset(&s, &w1, &h).await.0, StatusCode::NOT_FOUND);

    // Resumable upload: half, a chunk at the wrong offset, the rest.
    let (st, b) = begin(&s, &w1, &h, &doc, photo.len()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["offset"], 0);
    assert_eq!(b["complete"], false);
    let half = photo.len() / 2;
    let (st, b) = chunk(&s, &w1, &h, 0, &photo[..half]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["offset"], half);
    // Not visible to another grid's worker even while uploading.
    assert_eq!(head_offset(&s, &w9, &h).await.0, StatusCode::NOT_FOUND);
    let (st, b) = chunk(&s, &w9, &h, half, &photo[half..]).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{b}");
    // The same chunk again (its answer was lost): 409 with the offset.
    let (st, b) = chunk(&s, &w1, &h, 0, &photo[..half]).await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    assert_eq!(b["error"], "offset_mismatch");
    assert_eq!(b["offset"], half);
    assert_eq!(
        head_offset(&s, &w1, &h).await,
        (StatusCode::OK, Some(half as u64))
    );
    // Asking again where it stands (a new attempt) gives the same offset.
    let (_, b) = begin(&s, &w1, &h, &doc, photo.len()).await;
    assert_eq!(b["offset"], half);
    // A chunk past the declared size is refused.
    let mut long = photo[half..].to_vec();
    long.push(0);
    let (st, _) = chunk(&s, &w1, &h, half, &long).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, b) = chunk(&s, &w1, &h, half, &photo[half..]).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["complete"], true);
    assert_eq!(b["offset"], photo.len());

    // The supervisor of the community reads it and its thumbnail.
    let (st, hd, b) = req(&s, "GET", &format!("/v1/blobs/{h}"), &sup, &[], vec![]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b, photo);
    assert_eq!(hd["content-type"], "image/jpeg");
    let (st, hd, t) = req(
        &s,
        "GET",
        &format!("/v1/blobs/{h}?thumb=1"),
        &sup,
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(hd["content-type"], "image/jpeg");
    let thumb = image::load_from_memory(&t).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (256, 192));
    // A download cut off resumes with Range.
    let (st, hd, b) = req(
        &s,
        "GET",
        &format!("/v1/blobs/{h}"),
        &sup,
        &[("range", "bytes=1000-".into())],
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::PARTIAL_CONTENT);
    assert_eq!(b, photo[1000..]);
    assert_eq!(
        hd["content-range"],
        format!("bytes 1000-{}/{}", photo.len() - 1, photo.len())
    );
    // Another grid's worker does not.
    let (st, _, b) = req(&s, "GET", &format!("/v1/blobs/{h}"), &w9, &[], vec![]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert!(!b.windows(4).any(|w| w == &photo[..4]));

    // Deduplicated: a second report with the same photo sends nothing.
    let doc2 = report_on_server(&s, &[&h]).await;
    let (st, b) = begin(&s, &w1, &h, &doc2, photo.len()).await;
    assert_eq!(st, StatusCode::OK, "{b}");
    assert_eq!(b["complete"], true);
    assert_eq!(b["offset"], photo.len());

    // Bytes that do not match their name are refused and discarded.
    let real = jpeg(64, 64, 2);
    let h2 = sha(&real);
    let doc3 = report_on_server(&s, &[&h2]).await;
    let (st, _) = begin(&s, &w1, &h2, &doc3, real.len()).await;
    assert_eq!(st, StatusCode::OK);
    let mut forged = real.clone();
    let last = forged.len() - 1;
    forged[last] ^= 0xFF;
    let (st, b) = chunk(&s, &w1, &h2, 0, &forged).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"], "hash_mismatch");
    assert_eq!(head_offset(&s, &w1, &h2).await.0, StatusCode::NOT_FOUND);
    // Uploaded again, properly: fine.
    let (_, b) = begin(&s, &w1, &h2, &doc3, real.len()).await;
    assert_eq!(b["offset"], 0);
    let (_, b) = chunk(&s, &w1, &h2, 0, &real).await;
    assert_eq!(b["complete"], true);

    // Not an image: stored, served as bytes, no thumbnail.
    let text = b"%PDF-1.4 not really a pdf, an attachment".to_vec();
    let h3 = sha(&text);
    let doc4 = report_on_server(&s, &[&h3]).await;
    begin(&s, &w1, &h3, &doc4, text.len()).await;
    let (_, b) = chunk(&s, &w1, &h3, 0, &text).await;
    assert_eq!(b["complete"], true);
    let (st, hd, b) = req(&s, "GET", &format!("/v1/blobs/{h3}"), &sup, &[], vec![]).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(b, text);
    assert_eq!(hd["content-type"], "application/octet-stream");
    let (st, _, _) = req(
        &s,
        "GET",
        &format!("/v1/blobs/{h3}?thumb=1"),
        &sup,
        &[],
        vec![],
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // A partial upload survives a restart of the server.
    let later = jpeg(320, 240, 3);
    let h4 = sha(&later);
    let doc5 = report_on_server(&s, &[&h4]).await;
    begin(&s, &w1, &h4, &doc5, later.len()).await;
    chunk(&s, &w1, &h4, 0, &later[..1000]).await;
    let s = s.reopen().await;
    assert_eq!(
        head_offset(&s, &w1, &h4).await,
        (StatusCode::OK, Some(1000))
    );
    let (_, b) = chunk(&s, &w1, &h4, 1000, &later[1000..]).await;
    assert_eq!(b["complete"], true);
    let (_, _, b) = req(&s, "GET", &format!("/v1/blobs/{h4}"), &w1, &[], vec![]).await;
    assert_eq!(b, later);
}

#[tokio::test]
async fn blobs_on_sqlite_files() {
    suite(TestServer::new().await).await;
}

#[tokio::test]
async fn blobs_on_postgres() {
    let Some(db) = gridsync_tests::PgDatabase::fresh() else {
        return;
    };
    let url = db.url.clone();
    suite(TestServer::with(|c| c.database_url = Some(url)).await).await;
    drop(db);
}

#[tokio::test]
async fn size_limit_is_configurable() {
    let s = TestServer::with(|c| c.max_blob_bytes = 1000).await;
    s.add_user("worker1", Role::GridWorker, &[G1], None).await;
    let w1 = s.tokens("worker1", &device()).await.0;
    let photo = jpeg(200, 200, 4);
    assert!(photo.len() > 1000);
    let h = sha(&photo);
    let doc = report_on_server(&s, &[&h]).await;
    let (st, b) = begin(&s, &w1, &h, &doc, photo.len()).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    assert!(b["message"].as_str().unwrap().contains("limit"), "{b}");
}
