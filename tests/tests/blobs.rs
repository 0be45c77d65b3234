//! Photos on issue reports, end to end against the real server: a worker
//! reports offline with two photos and syncs; the community supervisor
//! gets them and a thumbnail; another grid's worker does not; an upload
//! cut in half (the phone stopped, the server killed, a chunk cut off
//! mid-body) resumes from the server's offset; the same photo is stored
//! once; an oversize photo is refused with a clear error and nothing kept.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

use gridsync_core::Error;
use gridsync_core::issue::NewIssue;
use gridsync_core::store::MAX_BLOB_BYTES;
use gridsync_core::sync::blobs::{fetch_blob, fetch_thumbnail};
use gridsync_core::sync::{Client, Progress, RetryPolicy, SyncOptions, SyncReport};

use crate::*;

/// A real JPEG of `w`×`h` pixels; `noise` makes it large (noise does not
/// compress), `seed` makes it differ from others.
pub(crate) fn jpeg(w: u32, h: u32, seed: u32, noise: bool) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if noise {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let b = state.to_le_bytes();
            image::Rgb([b[0], b[1], b[2]])
        } else {
            image::Rgb([(x + seed) as u8, (y * 2) as u8, ((x ^ y) + seed * 40) as u8])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode_image(&img)
        .unwrap();
    out
}

fn sha(data: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(data))
}

fn new_issue(grid: &str) -> NewIssue {
    NewIssue {
        grid: grid.into(),
        category: "safety".into(),
        subtype: gridsync_core::issue::catalogue::category("safety")
            .unwrap()
            .subtypes[0]
            .code
            .into(),
        description: "3号楼楼道堆放杂物，堵塞消防通道".into(),
        source: "patrol".into(),
        ..NewIssue::default()
    }
}

fn report(phone: &mut Phone, grid: &str) -> String {
    phone.store.report_issue(new_issue(grid)).unwrap()
}

fn sync_with(
    phone: &mut Phone,
    client: &Client,
    cancel: Option<&AtomicBool>,
    progress: &mut dyn FnMut(&Progress),
) -> gridsync_core::Result<SyncReport> {
    gridsync_core::sync::sync(
        &mut phone.store,
        client,
        &SyncOptions::default(),
        cancel,
        progress,
    )
}

fn token(phone: &Phone) -> String {
    phone.store.meta("auth.access_token").unwrap().unwrap()
}

/// `HEAD /v1/blobs/{hash}` as `phone`: status and the server's offset.
fn head(server: &TestServer, phone: &Phone, hash: &str) -> (u16, Option<u64>) {
    let r = reqwest::blocking::Client::new()
        .head(format!("{}/v1/blobs/{hash}", server.url))
        .bearer_auth(token(phone))
        .send()
        .unwrap();
    let offset = r
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (r.status().as_u16(), offset)
}

/// Complete blob files the server keeps (not partial uploads, not thumbnails).
fn blob_files(server: &TestServer) -> Vec<String> {
    let mut out = Vec::new();
    let dir = server.data.path().join("blobs");
    for d in std::fs::read_dir(dir).unwrap() {
        let d = d.unwrap();
        if d.file_name() == "partial" {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().to_string();
            if !name.contains('.') {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

fn status_of(e: &Error) -> u16 {
    match e {
        Error::Server { status, .. } => *status,
        other => panic!("expected a server answer, got {other}"),
    }
}

#[test]
fn a_worker_reports_offline_with_two_photos_and_the_supervisor_sees_them() {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();

    // Offline: a report with two photos (the same photo twice is one).
    let p1 = jpeg(800, 600, 1, false);
    let p2 = jpeg(640, 480, 2, false);
    let id = report(&mut w, G1);
    let h1 = w.store.attach_photo(&id, &p1).unwrap();
    let h2 = w.store.attach_photo(&id, &p2).unwrap();
    assert_eq!(w.store.attach_photo(&id, &p1).unwrap(), h1);
    assert_eq!((h1.clone(), h2.clone()), (sha(&p1), sha(&p2)));
    assert_eq!(
        w.store.issue(&id).unwrap().photos,
        vec![h1.clone(), h2.clone()]
    );
    assert_eq!(w.store.pending_blobs().unwrap().len(), 2);

    let r = w.sync();
    assert_eq!(r.rejected, 0);
    assert_eq!(r.blobs_uploaded, 2);
    assert_eq!(r.blob_bytes_sent, (p1.len() + p2.len()) as u64);
    assert_eq!(r.blobs_pending, 0);
    assert!(w.store.pending_blobs().unwrap().is_empty());
    // Nothing left to send the next time.
    assert_eq!(w.sync().blob_bytes_sent, 0);

    // The community supervisor gets the report, both photos, a thumbnail.
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    assert_eq!(
        sup.store.issue(&id).unwrap().photos,
        vec![h1.clone(), h2.clone()]
    );
    assert_eq!(fetch_blob(&mut sup.store, &sup.client, &h1).unwrap(), p1);
    assert_eq!(fetch_blob(&mut sup.store, &sup.client, &h2).unwrap(), p2);
    assert_eq!(
        sup.store.blob(&h1).unwrap().unwrap(),
        p1,
        "kept on the phone"
    );
    let thumb = fetch_thumbnail(&mut sup.store, &sup.client, &h1).unwrap();
    let t = image::load_from_memory(&thumb).unwrap();
    assert_eq!((t.width(), t.height()), (256, 192));
    assert!(thumb.len() < p1.len() / 4);

    // Another grid's worker does not get them (nor learns they exist).
    let mut w3 = Phone::login(&server, "worker3");
    w3.sync();
    let e = fetch_blob(&mut w3.store, &w3.client, &h1).unwrap_err();
    assert_eq!(status_of(&e), 404);
    let e = fetch_thumbnail(&mut w3.store, &w3.client, &h1).unwrap_err();
    assert_eq!(status_of(&e), 404);
    assert_eq!(head(&server, &w3, &h1).0, 404);
    assert!(w3.store.blob(&h1).unwrap().is_none());

    // Deduplicated: a second report with the same photo sends no bytes,
    // and the server keeps the photo once.
    let id2 = report(&mut w, G1);
    w.store.attach_photo(&id2, &p1).unwrap();
    let r = w.sync();
    assert_eq!(r.blobs_uploaded, 1);
    assert_eq!(r.blob_bytes_sent, 0);
    let mut expected = vec![h1.clone(), h2.clone()];
    expected.sort();
    assert_eq!(blob_files(&server), expected);

    // A photo stored first and listed in a report as it is made is
    // matched to that report and uploaded too.
    let p3 = jpeg(320, 240, 3, false);
    let h3 = w.store.put_blob(&p3).unwrap();
    let id3 = w
        .store
        .report_issue(NewIssue {
            photos: vec![h3.clone()],
            ..new_issue(G1)
        })
        .unwrap();
    let r = w.sync();
    assert_eq!((r.blobs_uploaded, r.blob_bytes_sent), (1, p3.len() as u64));
    sup.sync();
    assert_eq!(sup.store.issue(&id3).unwrap().photos, vec![h3.clone()]);
    assert_eq!(fetch_blob(&mut sup.store, &sup.client, &h3).unwrap(), p3);

    // A revoked device keeps no photos either.
    let device = sup.store.device_id().to_string();
    server.cli(&["admin", "device", "revoke", &device]);
    let e = sup.try_sync().unwrap_err();
    assert!(matches!(e, Error::DeviceRevoked), "{e}");
    for h in [&h1, &h2, &h3] {
        assert!(sup.store.blob(h).unwrap().is_none(), "photo left behind");
    }
}

#[test]
fn an_upload_cut_in_half_resumes_from_the_servers_offset() {
    let mut server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    let photo = jpeg(1400, 1000, 7, true);
    let size = photo.len() as u64;
    assert!(size > 2 * 1024 * 1024, "a big photo: {size} bytes");
    let id = report(&mut w, G1);
    let h = w.store.attach_photo(&id, &photo).unwrap();

    // 1. The phone stops half-way (the person cancels, the app is closed).
    let cancel = AtomicBool::new(false);
    let client = w.client.clone();
    let result = sync_with(&mut w, &client, Some(&cancel), &mut |p| {
        let left = p.bytes_total.saturating_sub(p.bytes_done);
        if left > 0 && left <= size / 2 {
            cancel.store(true, Ordering::SeqCst);
        }
    });
    assert!(matches!(result, Err(Error::Cancelled)), "{result:?}");
    let (status, at) = head(&server, &w, &h);
    assert_eq!(status, 200);
    let at = at.unwrap();
    assert!(at >= size / 2 && at < size, "server holds {at} of {size}");

    // 2. A chunk cut off mid-body (the connection dropped while sending):
    //    the server keeps nothing of it.
    {
        let addr = server.url.trim_start_matches("http://").to_string();
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let part = &photo[at as usize..at as usize + 100_000];
        write!(
            s,
            "PATCH /v1/blobs/{h} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
             Upload-Offset: {at}\r\nContent-Type: application/offset+octet-stream\r\n\
             Content-Length: 300000\r\n\r\n",
            token(&w)
        )
        .unwrap();
        s.write_all(part).unwrap();
        s.flush().unwrap();
        drop(s);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(head(&server, &w, &h), (200, Some(at)));

    // 3. The next sync resumes: only the rest is sent.
    let r = w.sync();
    assert_eq!(r.blobs_uploaded, 1);
    assert_eq!(r.blob_bytes_sent, size - at, "resumed, not restarted");

    // 4. The server is killed mid-upload: the next sync, once it is back,
    //    resumes from what the server had acknowledged.
    let second = jpeg(1200, 900, 8, true);
    let size2 = second.len() as u64;
    let id2 = report(&mut w, G1);
    let h2 = w.store.attach_photo(&id2, &second).unwrap();
    let impatient = Client::new(&server.url).unwrap().with_retry(RetryPolicy {
        attempts: 2,
        first_backoff: std::time::Duration::from_millis(50),
    });
    let mut killed = false;
    let result = sync_with(&mut w, &impatient, None, &mut |p| {
        let left = p.bytes_total.saturating_sub(p.bytes_done);
        if !killed && left > 0 && left <= size2 / 2 {
            server.kill();
            killed = true;
        }
    });
    assert!(killed);
    assert!(matches!(result, Err(Error::Network(_))), "{result:?}");
    assert!(w.store.blob_info(&h2).unwrap().unwrap().pending_upload);
    server.restart();
    let (_, at2) = head(&server, &w, &h2);
    let at2 = at2.unwrap();
    assert!(
        at2 >= size2 / 2 && at2 < size2,
        "server kept {at2} of {size2}"
    );
    w.client = Client::new(&server.url).unwrap();
    let r = w.sync();
    assert_eq!(r.blob_bytes_sent, size2 - at2);
    assert!(!w.store.blob_info(&h2).unwrap().unwrap().pending_upload);

    // Both arrive whole.
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    assert_eq!(fetch_blob(&mut sup.store, &sup.client, &h).unwrap(), photo);
    assert_eq!(
        fetch_blob(&mut sup.store, &sup.client, &h2).unwrap(),
        second
    );
}

#[test]
fn an_oversize_photo_is_refused_clearly_and_nothing_is_kept() {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    let id = report(&mut w, G1);

    // On the phone: a typed error naming the field, in Chinese and English.
    let big = vec![0xA5u8; MAX_BLOB_BYTES as usize + 1];
    match w.store.attach_photo(&id, &big).unwrap_err() {
        Error::Invalid { field, reason } => {
            assert_eq!(field, "photo");
            assert!(reason.zh.contains("文件过大"), "{}", reason.zh);
            assert!(reason.en.contains("10 MB"), "{}", reason.en);
        }
        other => panic!("expected Invalid, got {other}"),
    }
    let h = sha(&big);
    assert!(w.store.blob_info(&h).unwrap().is_none());
    assert!(w.store.issue(&id).unwrap().photos.is_empty());
    assert!(w.store.pending_blobs().unwrap().is_empty());

    // On the server: a client that ignores the limit is told so before it
    // sends a byte, and nothing is kept.
    w.sync();
    let r = reqwest::blocking::Client::new()
        .put(format!("{}/v1/blobs/{h}", server.url))
        .bearer_auth(token(&w))
        .json(&serde_json::json!({"doc": id, "size": big.len()}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["error"], "too_large");
    assert!(
        body["message"].as_str().unwrap().contains("最大10 MB"),
        "{body}"
    );
    assert_eq!(head(&server, &w, &h).0, 404);
}
