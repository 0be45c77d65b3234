//! The hotline's tables on PostgreSQL.

use deadpool_postgres::Pool;

use super::{Claim, Credential, Due, Failing, NewCredential};
use crate::db::DbError;
use crate::pg::{err, execute, pool_err, query, query_one, query_opt};

const CREDENTIAL: &str =
    "id, name, token_sha256, signing_secret, webhook_url, created_at, revoked_at";

fn credential(r: &tokio_postgres::Row) -> Credential {
    Credential {
        id: r.get(0),
        name: r.get(1),
        token_sha256: r.get(2),
        signing_secret: r.get(3),
        webhook_url: r.get(4),
        created_at: r.get(5),
        revoked_at: r.get(6),
    }
}

pub(super) async fn create(pool: &Pool, c: NewCredential) -> Result<bool, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let n = execute(
        &client,
        "INSERT INTO hotline_credentials (id, name, token_sha256, signing_secret, webhook_url, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        &[&c.id, &c.name, &c.token_sha256, &c.signing_secret, &c.webhook_url, &c.created_at],
    )
    .await
    .map_err(err)?;
    Ok(n == 1)
}

pub(super) async fn revoke(pool: &Pool, name: String, now: i64) -> Result<bool, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let n = execute(
        &client,
        "UPDATE hotline_credentials SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
        &[&name, &now],
    )
    .await
    .map_err(err)?;
    Ok(n == 1)
}

pub(super) async fn list(pool: &Pool) -> Result<Vec<Credential>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let rows = query(
        &client,
        &format!("SELECT {CREDENTIAL} FROM hotline_credentials ORDER BY created_at, name"),
        &[],
    )
    .await
    .map_err(err)?;
    Ok(rows.iter().map(credential).collect())
}

pub(super) async fn by_token(pool: &Pool, sha: String) -> Result<Option<Credential>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let row = query_opt(
        &client,
        &format!("SELECT {CREDENTIAL} FROM hotline_credentials WHERE token_sha256 = $1"),
        &[&sha],
    )
    .await
    .map_err(err)?;
    Ok(row.as_ref().map(credential))
}

pub(super) async fn claim(
    pool: &Pool,
    credential: String,
    reference: String,
    report_id: String,
    change: Vec<u8>,
    now: i64,
) -> Result<Claim, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let n = execute(
        &client,
        "INSERT INTO hotline_cases (credential_id, reference, report_id, change, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id, reference) DO NOTHING",
        &[&credential, &reference, &report_id, &change, &now],
    )
    .await
    .map_err(err)?;
    if n == 1 {
        return Ok(Claim::New);
    }
    // The row that won is committed (ON CONFLICT waited for it).
    let row = query_opt(
        &client,
        "SELECT report_id, change FROM hotline_cases WHERE credential_id = $1 AND reference = $2",
        &[&credential, &reference],
    )
    .await
    .map_err(err)?
    .ok_or_else(|| DbError::Task("hotline case vanished after a conflict".into()))?;
    Ok(Claim::Existing {
        report_id: row.get(0),
        change: row.get(1),
    })
}

pub(super) async fn case(
    pool: &Pool,
    credential: String,
    reference: String,
) -> Result<Option<String>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let row = query_opt(
        &client,
        "SELECT report_id FROM hotline_cases
         WHERE credential_id = $1 AND reference = $2 AND change IS NULL",
        &[&credential, &reference],
    )
    .await
    .map_err(err)?;
    Ok(row.map(|r| r.get(0)))
}

pub(super) async fn filed(pool: &Pool, report_id: String) -> Result<(), DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    execute(
        &client,
        "UPDATE hotline_cases SET change = NULL WHERE report_id = $1",
        &[&report_id],
    )
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn unclaim(pool: &Pool, report_id: String) -> Result<(), DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    execute(
        &client,
        "DELETE FROM hotline_cases WHERE report_id = $1 AND change IS NOT NULL",
        &[&report_id],
    )
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn unfiled(
    pool: &Pool,
    before: i64,
    limit: i64,
) -> Result<Vec<(String, Vec<u8>)>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let rows = query(
        &client,
        "SELECT report_id, change FROM hotline_cases
         WHERE change IS NOT NULL AND created_at < $1 ORDER BY created_at LIMIT $2",
        &[&before, &limit],
    )
    .await
    .map_err(err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// How far the dispatcher has followed the change log.
pub(super) async fn cursor(pool: &Pool) -> Result<i64, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    Ok(
        query_one(&client, "SELECT seq FROM hotline_cursor WHERE id = 1", &[])
            .await
            .map_err(err)?
            .get(0),
    )
}

/// Which of the reports `ids` came from the hotline: (report id, the
/// platform's reference), in id order.
pub(super) async fn references(
    pool: &Pool,
    ids: Vec<String>,
) -> Result<Vec<(String, String)>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let rows = query(
        &client,
        "SELECT report_id, reference FROM hotline_cases WHERE report_id = ANY($1)
         ORDER BY report_id",
        &[&ids],
    )
    .await
    .map_err(err)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) async fn enqueue(
    pool: &Pool,
    steps: Vec<(String, String, String)>,
    upto: i64,
    now: i64,
) -> Result<usize, DbError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(err)?;
    let mut added = 0;
    for (report_id, event_id, payload) in &steps {
        added += execute(
            &tx,
            "INSERT INTO hotline_deliveries (report_id, event_id, payload, next_at, created_at)
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (report_id, event_id) DO NOTHING",
            &[report_id, event_id, payload, &now],
        )
        .await
        .map_err(err)? as usize;
    }
    execute(
        &tx,
        "UPDATE hotline_cursor SET seq = greatest(seq, $1) WHERE id = 1",
        &[&upto],
    )
    .await
    .map_err(err)?;
    tx.commit().await.map_err(err)?;
    Ok(added)
}

pub(super) async fn due(pool: &Pool, now: i64, limit: i64) -> Result<Vec<Due>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let rows = query(
        &client,
        "SELECT d.id, d.report_id, d.event_id, d.payload, d.attempts, k.webhook_url, k.signing_secret
         FROM hotline_deliveries d
         JOIN hotline_cases c ON c.report_id = d.report_id
         JOIN hotline_credentials k ON k.id = c.credential_id
         WHERE d.delivered_at IS NULL AND d.next_at <= $1 AND k.revoked_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM hotline_deliveries e
                           WHERE e.report_id = d.report_id AND e.delivered_at IS NULL AND e.id < d.id)
         ORDER BY d.next_at, d.id LIMIT $2",
        &[&now, &limit],
    )
    .await
    .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| Due {
            id: r.get(0),
            report_id: r.get(1),
            event_id: r.get(2),
            payload: r.get(3),
            attempts: i64::from(r.get::<_, i32>(4)),
            url: r.get(5),
            secret: r.get(6),
        })
        .collect())
}

pub(super) async fn delivered(pool: &Pool, id: i64, now: i64) -> Result<(), DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    execute(
        &client,
        "UPDATE hotline_deliveries SET delivered_at = $2, last_at = $2, attempts = attempts + 1
         WHERE id = $1",
        &[&id, &now],
    )
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn failed(
    pool: &Pool,
    id: i64,
    next_at: i64,
    error: String,
    now: i64,
) -> Result<(), DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    execute(
        &client,
        "UPDATE hotline_deliveries SET attempts = attempts + 1, next_at = $2, last_error = $3, last_at = $4
         WHERE id = $1 AND delivered_at IS NULL",
        &[&id, &next_at, &error, &now],
    )
    .await
    .map_err(err)?;
    Ok(())
}

pub(super) async fn failing(pool: &Pool, after: i64, limit: i64) -> Result<Vec<Failing>, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let after = i32::try_from(after).unwrap_or(i32::MAX);
    let rows = query(
        &client,
        "SELECT d.id, k.name, c.reference, d.report_id, d.event_id, d.payload, d.attempts,
                d.last_error, d.last_at, d.next_at, k.revoked_at IS NOT NULL
         FROM hotline_deliveries d
         JOIN hotline_cases c ON c.report_id = d.report_id
         JOIN hotline_credentials k ON k.id = c.credential_id
         WHERE d.delivered_at IS NULL AND d.attempts >= $1
         ORDER BY d.id LIMIT $2",
        &[&after, &limit],
    )
    .await
    .map_err(err)?;
    Ok(rows
        .iter()
        .map(|r| Failing {
            id: r.get(0),
            credential: r.get(1),
            reference: r.get(2),
            report_id: r.get(3),
            event_id: r.get(4),
            payload: r.get(5),
            attempts: i64::from(r.get::<_, i32>(6)),
            last_error: r.get(7),
            last_at: r.get(8),
            next_at: r.get(9),
            revoked: r.get(10),
        })
        .collect())
}

pub(super) async fn retry(pool: &Pool, id: Option<i64>, now: i64) -> Result<usize, DbError> {
    let client = pool.get().await.map_err(pool_err)?;
    let n = match id {
        Some(id) => execute(
            &client,
            "UPDATE hotline_deliveries SET next_at = $2 WHERE id = $1 AND delivered_at IS NULL",
            &[&id, &now],
        )
        .await
        .map_err(err)?,
        None => execute(
            &client,
            "UPDATE hotline_deliveries SET next_at = $1 WHERE delivered_at IS NULL AND next_at > $1",
            &[&now],
        )
        .await
        .map_err(err)?,
    };
    Ok(n as usize)
}
