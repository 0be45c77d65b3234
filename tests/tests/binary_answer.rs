//! A sync answer in its binary form (`Accept: application/vnd.gridsync.sync`,
//! docs/protocol.md "Binary answers") carries exactly what the JSON answer
//! to the same request does, and a request that does not ask for it gets
//! JSON.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::*;

const BINARY: &str = "application/vnd.gridsync.sync";

/// POST a first sync (empty cursors) as `token` with `accept`; the answer's
/// content type and body.
fn first_sync(
    server: &TestServer,
    token: &str,
    device: &str,
    accept: Option<&str>,
) -> (String, Vec<u8>) {
    let mut req = reqwest::blocking::Client::new()
        .post(format!("{}/v1/sync", server.url))
        .bearer_auth(token)
        .json(&serde_json::json!({"device_id": device, "cursors": {}}));
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = req.send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (content_type, resp.bytes().unwrap().to_vec())
}

#[test]
fn a_binary_answer_carries_what_the_json_answer_does() {
    let server = community();
    let mut w = Phone::login(&server, "worker1");
    w.sync();
    w.add_places(G1);
    for room in ["101", "102", "103"] {
        let h = w.household(G1, room, None);
        w.store.add_visit(&h, visit("正常")).unwrap();
    }
    w.sync();

    let device = gridsync_core::doc::new_id();
    let token = crate::bad_requests::token(&server, "supervisor", &device);
    let (json_type, json_body) = first_sync(&server, &token, &device, None);
    assert!(json_type.starts_with("application/json"), "{json_type}");
    let json: serde_json::Value = serde_json::from_slice(&json_body).unwrap();

    for accept in [
        BINARY,
        "application/json;q=0.5, application/vnd.gridsync.sync",
    ] {
        let (binary_type, binary_body) = first_sync(&server, &token, &device, Some(accept));
        assert_eq!(binary_type, BINARY, "Accept: {accept}");
        let end = binary_body
            .iter()
            .position(|b| *b == b'\n')
            .expect("a header line");
        let mut header: serde_json::Value = serde_json::from_slice(&binary_body[..end]).unwrap();
        let mut data = &binary_body[end + 1..];
        // Each document's data follows the line, in order, `size` bytes.
        let docs = header["docs"].as_array_mut().unwrap();
        assert!(
            docs.len() >= 4,
            "the grid and three households: {}",
            docs.len()
        );
        for d in docs.iter_mut() {
            let size = d["size"].as_u64().unwrap() as usize;
            assert!(size > 0 && size <= data.len(), "{d}");
            let (this, rest) = data.split_at(size);
            let d = d.as_object_mut().unwrap();
            d.remove("size");
            d.insert("data".into(), B64.encode(this).into());
            data = rest;
        }
        assert!(data.is_empty(), "{} bytes beyond the sizes", data.len());
        // With the data put back as base64, the same answer (but for the
        // server's clock).
        for answer in [&mut header, &mut json.clone()] {
            answer.as_object_mut().unwrap().remove("now");
        }
        let mut expected = json.clone();
        expected.as_object_mut().unwrap().remove("now");
        assert_eq!(header, expected, "Accept: {accept}");
    }

    // Refused with q=0, or not named: JSON.
    for accept in [
        "application/vnd.gridsync.sync;q=0",
        "application/json",
        "*/*",
    ] {
        let (content_type, body) = first_sync(&server, &token, &device, Some(accept));
        assert!(
            content_type.starts_with("application/json"),
            "Accept: {accept}: {content_type}"
        );
        serde_json::from_slice::<serde_json::Value>(&body).unwrap();
    }
}
