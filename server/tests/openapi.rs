//! The OpenAPI document is valid JSON and names every route the server serves.

use gridsync_server::openapi::OPENAPI;

#[test]
fn openapi_lists_every_route() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Every route registered in the source appears in the document.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routes = Vec::new();
    for entry in walk(&src) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (i, _) in text.match_indices(".route(") {
            let rest = &text[i..];
            if let Some(start) = rest.find('"') {
                let tail = &rest[start + 1..];
                let end = tail.find('"').unwrap();
                routes.push(tail[..end].to_string());
            }
        }
    }
    assert!(routes.len() >= 12, "found routes: {routes:?}");
    for r in routes {
        assert!(
            paths.contains_key(&r),
            "route {r} missing from openapi.json"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}
