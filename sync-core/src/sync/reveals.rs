//! Sending the device's reveal records (`store/reveals`: who read a
//! resident's full ID number and phone, when, why) to the server's audit
//! log: `POST /v1/reveals`, after the documents of a successful sync.
//!
//! Only the signed-in user's records go, under their token (another
//! user's wait until they sign in here again, as their changes do). A
//! record is removed here only once the server has answered that it holds
//! it; the server records each id once, so sending one again after a
//! dropped answer writes nothing twice.

use serde::{Deserialize, Serialize};

use crate::Result;

use super::{Client, StoreAccess};

/// Records per request.
const BATCH: usize = 200;

/// One record as sent.
#[derive(Debug, Serialize)]
struct SentReveal<'a> {
    id: &'a str,
    at: i64,
    household_id: &'a str,
    resident_id: &'a str,
    reason: &'a str,
}

/// `POST /v1/reveals`'s body.
#[derive(Debug, Serialize)]
struct RevealsRequest<'a> {
    reveals: Vec<SentReveal<'a>>,
}

/// Its answer: the ids the server holds (recorded now or before).
#[derive(Debug, Deserialize)]
struct RevealsResponse {
    recorded: Vec<String>,
}

/// Send the signed-in user's reveal records; returns how many the server
/// now holds. Nothing to send: no request. The store is held only to read
/// and forget records, never during the request.
pub fn send<A: StoreAccess>(store: &mut A, client: &Client) -> Result<u64> {
    let (user, signed_in) = store.with(|s| (s.author().user.clone(), s.author().is_signed_in()));
    if !signed_in {
        return Ok(0);
    }
    let mut sent = 0u64;
    loop {
        let batch = store.with(|s| s.pending_reveals(&user, BATCH))?;
        if batch.is_empty() {
            return Ok(sent);
        }
        let body = RevealsRequest {
            reveals: batch
                .iter()
                .map(|r| SentReveal {
                    id: &r.id,
                    at: r.at,
                    household_id: &r.household_id,
                    resident_id: &r.resident_id,
                    reason: &r.reason,
                })
                .collect(),
        };
        let answer: RevealsResponse = client.call(store, "/v1/reveals", &body)?;
        let held: Vec<String> = batch
            .iter()
            .map(|r| r.id.clone())
            .filter(|id| answer.recorded.contains(id))
            .collect();
        store.with(|s| s.forget_reveals(&held))?;
        sent += held.len() as u64;
        if held.len() < batch.len() {
            // The server did not take some: they wait for the next sync
            // rather than being sent in a loop.
            return Ok(sent);
        }
    }
}
