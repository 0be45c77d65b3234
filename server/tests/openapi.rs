//! The OpenAPI document is valid JSON, names every route the server serves,
//! declares every path parameter, resolves every reference and lists the
//! failures every operation can answer; and where it states a limit, the
//! server enforces it. (scripts/api-contract-test.sh checks the rest
//! against the running server with schemathesis.)

use axum::http::StatusCode;
use gridsync_server::openapi::OPENAPI;
use gridsync_server::principal::Role;
use serde_json::Value;

use crate::support::{G1, TestServer, device};

fn doc() -> Value {
    serde_json::from_str(OPENAPI).unwrap()
}

/// Every operation: (path, method, path item, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "patch", "delete", "head"].contains(&method.as_str()) {
                out.push((path.clone(), method.clone(), item.clone(), op.clone()));
            }
        }
    }
    out
}

/// A parameter, following a `$ref` into `components`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str() {
        Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap(),
        None => v,
    }
}

#[test]
fn openapi_lists_every_route() {
    let doc = doc();
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

#[test]
fn every_path_parameter_is_declared() {
    let doc = doc();
    for (path, method, item, op) in operations(&doc) {
        let declared: Vec<String> = item["parameters"]
            .as_array()
            .into_iter()
            .chain(op["parameters"].as_array())
            .flatten()
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        for segment in path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                assert!(
                    declared.iter().any(|d| d == name),
                    "{method} {path}: path parameter {name} not declared"
                );
            }
        }
    }
}

#[test]
fn every_reference_resolves() {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = doc();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{} references", all.len());
    for r in all {
        assert!(
            doc.pointer(r.trim_start_matches('#')).is_some(),
            "{r} does not resolve"
        );
    }
}

/// The failures the server answers for reasons common to many operations
/// are listed with each of them: 401 wherever a bearer token is required,
/// 403 on the admin endpoints, 400 and 413 wherever a body is read, the
/// sign-in redirect on the web pages.
#[test]
fn every_operation_lists_its_common_failures() {
    let doc = doc();
    for (path, method, _, op) in operations(&doc) {
        let statuses: Vec<&str> = op["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method} {path}: no responses"))
            .keys()
            .map(String::as_str)
            .collect();
        let has = |s: &str| statuses.contains(&s);
        let name = format!("{method} {path}");
        assert!(
            statuses
                .iter()
                .any(|s| s.starts_with('2') || s.starts_with('3')),
            "{name}: no success status"
        );
        let security = op["security"].to_string();
        if security.contains("\"bearer\"") {
            assert!(has("401"), "{name}: 401 not listed");
        }
        if path.starts_with("/v1/admin/") {
            assert!(has("403"), "{name}: 403 not listed");
        }
        if security.contains("webSession") && method == "get" && path != "/web" && path != "/web/" {
            assert!(has("303"), "{name}: the sign-in redirect not listed");
        }
        if op.get("requestBody").is_some() {
            assert!(has("413"), "{name}: 413 not listed");
            if op["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                assert!(has("400"), "{name}: 400 not listed");
            }
        }
    }
}

/// Sync cursors are the two-part positions the server answers, not
/// numbers: the document says so, and a real answer is one.
#[tokio::test]
async fn sync_cursors_are_positions() {
    let doc = doc();
    let answered = &doc["components"]["schemas"]["SyncResponse"]["properties"]["cursors"];
    assert_eq!(
        answered["additionalProperties"]["$ref"],
        "#/components/schemas/Position"
    );
    let s = TestServer::new().await;
    s.add_user("worker", Role::GridWorker, &[G1], None).await;
    let (token, _) = s.tokens("worker", &device()).await;
    let (status, body) = s
        .call(
            "POST",
            "/v1/sync",
            Some(&token),
            Some(serde_json::json!({"cursors": {format!("g:{G1}"): 0}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cursor = &body["cursors"][format!("g:{G1}")];
    assert!(
        cursor["base"].is_i64() && cursor["cursor"].is_i64(),
        "{cursor}"
    );
}

/// The report lists' `limit` is 1 to 1000 as the document says: outside
/// it, or not a number, or an unknown parameter, is a 400 in JSON naming
/// the parameter (it used to be clamped silently, or answered in plain text).
#[tokio::test]
async fn report_list_parameters_are_enforced_as_documented() {
    let limit = &doc()["components"]["parameters"]["Limit"]["schema"];
    assert_eq!(
        (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
        (Some(1), Some(1000))
    );
    let s = TestServer::new().await;
    let token = s.admin_token().await;
    for (query, field) in [
        ("overdue?limit=1001", "limit"),
        ("overdue?limit=0", "limit"),
        ("overdue?limit=-1", "limit"),
        ("overdue?limit=lots", "limit"),
        ("overdue?limit=5&limit=6", "limit"),
        ("overdue?within_hours=5", "within_hours"),
        ("overdue?colour=red", "colour"),
        ("nearly-due?limit=100000", "limit"),
        ("nearly-due?within_hours=721", "within_hours"),
        ("nearly-due?within_hours=soon", "within_hours"),
    ] {
        let (status, body) = s
            .call("GET", &format!("/v1/reports/{query}"), Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"], "invalid_field", "{query}: {body}");
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    for query in [
        "overdue?limit=1000",
        "overdue?limit=1",
        "overdue",
        "nearly-due?within_hours=720&limit=1000",
    ] {
        let (status, body) = s
            .call("GET", &format!("/v1/reports/{query}"), Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        assert!(body["reports"].is_array(), "{query}: {body}");
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
