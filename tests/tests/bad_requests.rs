//! Garbage, truncated, oversized, wrongly encoded and replayed request
//! bodies get a 4xx with a clear message and change nothing.

use std::io::Write;

use crate::*;

pub(crate) fn token(server: &gridsync_tests::TestServer, user: &str, device: &str) -> String {
    let resp: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{}/v1/auth/login", server.url))
        .json(&serde_json::json!({"username": user, "password": PASSWORD, "device_id": device}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    resp["access_token"].as_str().unwrap().to_string()
}

fn post(
    server: &gridsync_tests::TestServer,
    token: Option<&str>,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (u16, serde_json::Value) {
    post_as(server, "application/json", token, body, encoding)
}

fn post_as(
    server: &gridsync_tests::TestServer,
    content_type: &str,
    token: Option<&str>,
    body: Vec<u8>,
    encoding: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync", server.url))
        .header("content-type", content_type);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    let resp = req.body(body).send().unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// What the supervisor sees: every document and its heads.
fn snapshot(sup: &mut Phone) -> Vec<(String, Vec<String>)> {
    sup.sync();
    let mut out = Vec::new();
    for (id, _, _) in sup.store.documents().unwrap() {
        out.push((id.clone(), sup.store.heads(&id).unwrap()));
    }
    out
}

/// A worker's changes not yet pushed (a household and a visit), the
/// supervisor's phone with what it sees before, and a token for a new
/// device of the worker.
struct Setup {
    server: gridsync_tests::TestServer,
    pending: Vec<gridsync_core::store::OutboxEntry>,
    sup: Phone,
    before: Vec<(String, Vec<String>)>,
    device: String,
    token: String,
}

fn setup(room: &str) -> Setup {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    let h = w.household(G1, room, None);
    w.store.add_visit(&h, visit("正常")).unwrap();
    let pending = w.store.outbox(100).unwrap();
    assert!(pending.len() >= 2, "a household and a visit");
    let mut sup = Phone::login(&server, "supervisor");
    let before = snapshot(&mut sup);
    let device = gridsync_core::doc::new_id();
    let token = token(&server, "worker1", &device);
    Setup {
        server,
        pending,
        sup,
        before,
        device,
        token,
    }
}

/// The JSON body pushing `pending` from `device`.
fn json_body(device: &str, pending: &[gridsync_core::store::OutboxEntry]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "device_id": device,
        "cursors": {},
        "push": pending.iter().map(|e| serde_json::json!({"doc": e.doc_id, "change": b64(&e.data)})).collect::<Vec<_>>()
    }))
    .unwrap()
}

#[test]
fn bad_bodies_get_clear_4xx_and_change_nothing() {
    let Setup {
        server,
        pending,
        mut sup,
        before,
        device,
        token: t,
    } = setup("101");
    let valid_bytes = json_body(&device, &pending);

    // (name, token, body, claimed content encoding, expected status)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, Option<&'a str>, u16);
    let cases: Vec<Case<'_>> = vec![
        ("no token", None, valid_bytes.clone(), None, 401),
        (
            "garbage",
            Some(&t),
            b"\x00\x01garbage{{".to_vec(),
            None,
            400,
        ),
        ("empty", Some(&t), Vec::new(), None, 400),
        (
            "truncated",
            Some(&t),
            valid_bytes[..valid_bytes.len() / 2].to_vec(),
            None,
            400,
        ),
        (
            "says gzip, is not",
            Some(&t),
            valid_bytes.clone(),
            Some("gzip"),
            400,
        ),
        (
            "says zstd, is not",
            Some(&t),
            valid_bytes.clone(),
            Some("zstd"),
            400,
        ),
        (
            "unknown field",
            Some(&t),
            br#"{"cursors":{},"surprise":1}"#.to_vec(),
            None,
            400,
        ),
        (
            "bad base64",
            Some(&t),
            br#"{"push":[{"doc":"x","change":"***"}]}"#.to_vec(),
            None,
            400,
        ),
    ];
    for (name, token, body, gz, expected) in cases {
        let (status, json) = post(&server, token, body, gz);
        assert_eq!(status, expected, "{name}: {json}");
        if status != 413 {
            let message = json["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{name}: a clear message: {json}");
        }
    }
    // Oversized: announced as 40 MiB; the server answers 413 without
    // reading it (a raw socket, as a client that keeps writing would only
    // see the connection close).
    let (status, text) = announce_oversized(&server, &t);
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("too_large"), "{text}");
    assert_eq!(snapshot(&mut sup), before, "nothing changed");

    // A valid push, then the same body replayed: stored once.
    let (status, first) = post(&server, Some(&t), valid_bytes.clone(), None);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["stored"].as_u64().unwrap() as usize, pending.len());
    let after_first = snapshot(&mut sup);
    let (status, replay) = post(&server, Some(&t), valid_bytes.clone(), None);
    assert_eq!(status, 200);
    assert_eq!(replay["stored"], 0);
    assert_eq!(
        replay["duplicates"].as_u64().unwrap() as usize,
        pending.len()
    );
    assert_eq!(snapshot(&mut sup), after_first, "a replay changes nothing");

    // Properly gzip-compressed bodies are accepted.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&valid_bytes).unwrap();
    let (status, _) = post(&server, Some(&t), enc.finish().unwrap(), Some("gzip"));
    assert_eq!(status, 200);
    // And zstd-compressed ones, which the client sends.
    let body = zstd::bulk::compress(&valid_bytes, 1).unwrap();
    let (status, json) = post(&server, Some(&t), body, Some("zstd"));
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["duplicates"], pending.len(), "{json}");
}

const BINARY: &str = "application/vnd.gridsync.sync";

/// A binary sync body: the header line, then the bytes.
fn binary(header: &serde_json::Value, data: &[&[u8]]) -> Vec<u8> {
    let mut out = serde_json::to_vec(header).unwrap();
    out.push(b'\n');
    for d in data {
        out.extend_from_slice(d);
    }
    out
}

#[test]
fn bad_binary_bodies_get_clear_4xx_and_change_nothing() {
    let Setup {
        server,
        pending,
        mut sup,
        before,
        device,
        token: t,
    } = setup("102");
    let header = |sizes: &[usize]| {
        serde_json::json!({
            "device_id": device,
            "cursors": {},
            "push": pending.iter().zip(sizes).map(|(e, s)| serde_json::json!({"doc": e.doc_id, "size": s})).collect::<Vec<_>>()
        })
    };
    let sizes: Vec<usize> = pending.iter().map(|e| e.data.len()).collect();
    let datas: Vec<&[u8]> = pending.iter().map(|e| e.data.as_slice()).collect();
    let valid = binary(&header(&sizes), &datas);

    let mut zero = sizes.clone();
    zero[1] = 0;
    let mut long = valid.clone();
    long.extend_from_slice(b"extra");
    // (name, body, expected status, expected field)
    let cases: Vec<(&str, Vec<u8>, u16, Option<&str>)> = vec![
        ("empty", Vec::new(), 400, None),
        ("no header line", br#"{"push":[]}"#.to_vec(), 400, None),
        (
            "header not JSON",
            b"\x00garbage\n\x01\x02".to_vec(),
            400,
            None,
        ),
        (
            "header with an unknown field",
            b"{\"surprise\":1}\n".to_vec(),
            400,
            None,
        ),
        (
            "cut off",
            valid[..valid.len() - 3].to_vec(),
            400,
            Some("push"),
        ),
        ("bytes beyond the sizes", long, 400, Some("push")),
        (
            "a change of size zero",
            binary(&header(&zero), &datas),
            400,
            Some("push[1].size"),
        ),
        (
            "a size beyond the body",
            binary(&header(&[usize::MAX, 1]), &datas),
            400,
            Some("push"),
        ),
        ("says zstd, is not", valid.clone(), 400, None),
    ];
    for (name, body, expected, field) in cases {
        let encoding = name.starts_with("says zstd").then_some("zstd");
        let (status, json) = post_as(&server, BINARY, Some(&t), body, encoding);
        assert_eq!(status, expected, "{name}: {json}");
        let message = json["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{name}: a clear message: {json}");
        if let Some(f) = field {
            assert_eq!(json["field"], f, "{name}: names the field: {json}");
        }
    }
    // Sizes that fit but bytes that are not Automerge changes: each is
    // refused by position, nothing stored.
    let junk = vec![0xAB_u8; sizes[0]];
    let junk_body = binary(&header(&sizes[..1]), &[&junk]);
    let (status, json) = post_as(&server, BINARY, Some(&t), junk_body, None);
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["stored"], 0, "{json}");
    assert_eq!(json["rejected"][0]["index"], 0, "{json}");
    assert_eq!(json["rejected"][0]["code"], "invalid_change", "{json}");
    assert_eq!(snapshot(&mut sup), before, "nothing changed");

    // The valid body, compressed as the client sends it: stored; the same
    // changes again as JSON: duplicates, the encodings are one protocol.
    let (status, first) = post_as(
        &server,
        BINARY,
        Some(&t),
        zstd::bulk::compress(&valid, 1).unwrap(),
        Some("zstd"),
    );
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["stored"].as_u64().unwrap() as usize, pending.len());
    let after_first = snapshot(&mut sup);
    assert_ne!(after_first, before);
    let (status, replay) = post(&server, Some(&t), json_body(&device, &pending), None);
    assert_eq!(status, 200, "{replay}");
    assert_eq!(replay["stored"], 0);
    assert_eq!(
        replay["duplicates"].as_u64().unwrap() as usize,
        pending.len()
    );
    assert_eq!(snapshot(&mut sup), after_first, "a replay changes nothing");
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn announce_oversized(server: &gridsync_tests::TestServer, token: &str) -> (u16, String) {
    use std::io::Read;
    let addr = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /v1/sync HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{{",
        40 * 1024 * 1024
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// POST `path` with a chunked body (no length announced) of 40 MiB, more
/// than the 32 MiB limit, written while the answer is read: the status
/// and text of the answer.
fn chunked_oversized(
    server: &gridsync_tests::TestServer,
    path: &str,
    token: &str,
    content_type: &str,
) -> (u16, String) {
    use std::io::Read;
    let addr = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // A JSON string that never ends: only the size can stop it.
        let chunk = vec![b'a'; 1 << 20];
        let _ = write!(writer, "2\r\n[\"\r\n");
        for _ in 0..40 {
            if write!(writer, "{:x}\r\n", chunk.len())
                .and_then(|()| writer.write_all(&chunk))
                .and_then(|()| writer.write_all(b"\r\n"))
                .is_err()
            {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n");
    });
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A body sent chunked, with no length to refuse it by, is cut off at the
/// limit and answered 413 `too_large` as documented (before: 400
/// `unreadable_body`), on the sync route and on a JSON route; nothing is
/// stored.
#[test]
fn a_chunked_body_over_the_limit_gets_413() {
    let Setup {
        server,
        mut sup,
        before,
        token: t,
        ..
    } = setup("101");
    for (path, content_type) in [
        ("/v1/sync", "application/json"),
        ("/v1/sync", BINARY),
        ("/v1/auth/login", "application/json"),
    ] {
        let (status, text) = chunked_oversized(&server, path, &t, content_type);
        assert_eq!(status, 413, "{path} {content_type}: {text}");
        assert!(text.contains("\"too_large\""), "{path}: {text}");
    }
    assert_eq!(snapshot(&mut sup), before, "nothing changed");
}
