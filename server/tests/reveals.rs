//! `POST /v1/reveals`: a phone's reveals of a resident's full values land
//! in the audit log with the user and device of the token, once each, and
//! a malformed record is refused naming its field.

use axum::http::StatusCode;
use gridsync_server::principal::Role;
use serde_json::json;

use crate::support::{G1, TestServer, device, str_of};

#[tokio::test]
async fn reveals_are_audited_once_with_user_device_and_reason() {
    audited_once(&TestServer::new().await).await;
}

#[tokio::test]
async fn reveals_are_audited_once_on_postgres() {
    let Some(db) = gridsync_tests::PgDatabase::fresh() else {
        return;
    };
    let url = db.url.clone();
    audited_once(&TestServer::with(move |c| c.database_url = Some(url)).await).await;
}

async fn audited_once(s: &TestServer) {
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let phone = device();
    let (token, _) = s.tokens("wang", &phone).await;
    let t = Some(token.as_str());
    let body = json!({"reveals": [
        {"id": "7d0f6a52-4c1e-4f0a-9d55-1a2b3c4d5e6f", "at": 1_760_000_000_000_i64,
         "household_id": "0190a0b0-0000-7000-8000-000000000001",
         "resident_id": "0190a0b0-0000-7000-8000-000000000002", "reason": "核实身份办理低保"}
    ]});
    let (status, answer) = s.call("POST", "/v1/reveals", t, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["recorded"][0],
        "7d0f6a52-4c1e-4f0a-9d55-1a2b3c4d5e6f"
    );
    // Sent again (the answer was lost): held, not written twice.
    let (status, answer) = s.call("POST", "/v1/reveals", t, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let audit = gridsync_server::web::audit::latest(s.state.web.main(), 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    let e = &audit[0];
    assert_eq!(e.username, "wang");
    assert_eq!(e.action, "reveal");
    assert_eq!(e.target, "0190a0b0-0000-7000-8000-000000000001");
    assert_eq!(e.at, 1_760_000_000_000);
    for part in [
        "0190a0b0-0000-7000-8000-000000000002",
        phone.as_str(),
        "核实身份办理低保",
    ] {
        assert!(e.detail.contains(part), "{part} in {}", e.detail);
    }
}

#[tokio::test]
async fn malformed_reveals_are_refused_naming_the_field_and_need_a_token() {
    let s = TestServer::new().await;
    s.add_user("wang", Role::GridWorker, &[G1], None).await;
    let (token, _) = s.tokens("wang", &device()).await;
    let t = Some(token.as_str());
    let good =
        json!({"id": "a1", "at": 1, "household_id": "h1", "resident_id": "r1", "reason": "核实"});
    let (status, _) = s
        .call(
            "POST",
            "/v1/reveals",
            None,
            Some(json!({"reveals": [good.clone()]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for (field, value, named) in [
        ("reason", json!("  "), "reveals[1].reason"),
        ("reason", json!("很".repeat(201)), "reveals[1].reason"),
        (
            "household_id",
            json!("13812345678 张三"),
            "reveals[1].household_id",
        ),
        ("at", json!(0), "reveals[1].at"),
    ] {
        let mut bad = good.clone();
        bad[field] = value;
        let (status, answer) = s
            .call(
                "POST",
                "/v1/reveals",
                t,
                Some(json!({"reveals": [good.clone(), bad]})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(str_of(&answer, "field"), named, "{answer}");
        assert!(!answer.to_string().contains("13812345678"), "{answer}");
    }
    // Nothing of a refused request was recorded.
    let audit = gridsync_server::web::audit::latest(s.state.web.main(), 10)
        .await
        .unwrap();
    assert!(audit.is_empty(), "{audit:?}");
}
