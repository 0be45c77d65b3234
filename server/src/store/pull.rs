//! How a pull page is decided, once for every [`DocStore`](super::DocStore)
//! implementation (as [`super::push`] decides pushes): the backends supply
//! only their queries ([`PullSource`]), read inside one snapshot of the log.
//!
//! The rule, per feed, in the order asked:
//! - a position past the log's end (the log was restored from an older
//!   backup) starts the feed over;
//! - `base` is never after `cursor`; the feed's documents changed after
//!   `cursor` are read in log order, as many as the page has room for
//!   (documents and bytes, at least one document per page);
//!   documents passed over (below) take no room, up to [`SKIP_MAX`] of
//!   them a page;
//! - each is sent with every change after `base` (the whole document when
//!   it entered the feed after `base`), unless the device's own changes are
//!   all there is to send (never echoed back); the cursor moves past it
//!   either way;
//! - a feed read to its end moves both `base` and `cursor` to the log's
//!   end; one cut short leaves `base` and sets `more`;
//! - documents that left the feed between the old and new cursor are
//!   listed to purge, and what remains after the new cursor is counted.

use std::collections::HashMap;

use super::{FeedCursor, PullLimits, PullPage, PulledDoc};
use crate::store::Position;

/// The most documents of one feed a page passes over without sending
/// them (the device's own changes are all there is to send) before it
/// answers with `more`: a phone that pushed a few grids is answered in the
/// same round trip, and no page reads without end.
pub(crate) const SKIP_MAX: usize = 5_000;

/// A document of a feed a pull may send.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) doc_id: String,
    /// Its latest change (its position in the feed).
    pub(crate) last_seq: i64,
    /// When it entered the feed.
    pub(crate) since_seq: i64,
    pub(crate) kind: String,
    pub(crate) scope: String,
    /// Whether it has a change after `base` not from the pulling device,
    /// when the candidates query already knows (else [`PullSource::data`]
    /// finds out).
    pub(crate) from_others: Option<bool>,
}

impl Candidate {
    /// Whether the device may lack the whole document: it entered the feed
    /// after everything the device has.
    pub(crate) fn whole(&self, base: i64) -> bool {
        self.since_seq > base
    }
}

/// What a pull sends of one document.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sent {
    /// Automerge data: a saved document and/or changes.
    pub(crate) data: Vec<u8>,
    /// Its list rows ([`PulledDoc::listing`]); only with the whole
    /// document.
    pub(crate) listing: Option<Vec<u8>>,
}

/// The queries a pull needs, inside one snapshot of the log.
pub(crate) trait PullSource {
    /// The backend's error.
    type Error;
    /// Documents read per round of [`PullSource::data`].
    const CHUNK: usize;

    /// The seq of the newest change (0 when the log is empty).
    async fn log_end(&mut self) -> Result<i64, Self::Error>;

    /// Up to `limit` documents of `feed` changed after `cursor`, in log
    /// order (for a device whose position is `base`).
    async fn candidates(
        &mut self,
        feed: &str,
        cursor: i64,
        base: i64,
        limit: usize,
        device: Option<&str>,
    ) -> Result<Vec<Candidate>, Self::Error>;

    /// What the device lacks of each of `chunk`: every change after
    /// `base` (all of the document for those that [`Candidate::whole`],
    /// with its list rows if they were derived from its latest version),
    /// for the documents with at least one such change not from `device`.
    /// A document left out is the device's own: not sent.
    async fn data(
        &mut self,
        chunk: &[Candidate],
        base: i64,
        device: Option<&str>,
    ) -> Result<HashMap<String, Sent>, Self::Error>;

    /// Documents that left `feed` after `after`, up to `upto`, in order.
    async fn departures(
        &mut self,
        feed: &str,
        after: i64,
        upto: i64,
    ) -> Result<Vec<String>, Self::Error>;

    /// How many documents of `feed` changed after `after`.
    async fn remaining(&mut self, feed: &str, after: i64) -> Result<u64, Self::Error>;
}

/// One page of every feed asked for, from each feed's position.
pub(crate) async fn page<S: PullSource>(
    src: &mut S,
    feeds: Vec<FeedCursor>,
    limits: PullLimits,
    device: Option<&str>,
) -> Result<PullPage, S::Error> {
    let max = src.log_end().await?;
    let mut page = PullPage::default();
    let mut bytes = 0usize;
    let full = |page: &PullPage, bytes: usize| bytes >= limits.max_bytes && !page.docs.is_empty();
    for FeedCursor { feed, at } in feeds {
        let at = if at.cursor > max || at.base > max {
            Position::default()
        } else {
            at
        };
        let (base, cursor) = (at.base.min(at.cursor), at.cursor);
        let mut new_cursor = cursor;
        let mut new_base = base;
        let mut exhausted = false;
        // Documents passed over (the device's own changes are all there is
        // to send) take no room on the page: a phone that just pushed a
        // grid is not asked to come back for an empty page. Read further
        // until the page is full, the feed is read to its end, or
        // SKIP_MAX documents were passed over.
        let mut skipped = 0usize;
        'feed: loop {
            let room = limits.max_docs.saturating_sub(page.docs.len());
            if room == 0 || full(&page, bytes) || skipped >= SKIP_MAX {
                break;
            }
            let candidates = src
                .candidates(&feed, new_cursor, base, room.saturating_add(1), device)
                .await?;
            let last = candidates.len() <= room;
            for chunk in candidates[..candidates.len().min(room)].chunks(S::CHUNK) {
                if full(&page, bytes) {
                    break 'feed;
                }
                let mut data = src.data(chunk, base, device).await?;
                for c in chunk {
                    if full(&page, bytes) {
                        break 'feed;
                    }
                    new_cursor = c.last_seq;
                    let Some(d) = data.remove(&c.doc_id) else {
                        skipped += 1;
                        continue;
                    };
                    bytes += d.data.len() + d.listing.as_ref().map_or(0, Vec::len);
                    page.docs.push(PulledDoc {
                        id: c.doc_id.clone(),
                        kind: c.kind.clone(),
                        scope: c.scope.clone(),
                        data: d.data,
                        listing: d.listing,
                    });
                }
            }
            if last {
                exhausted = true;
                new_cursor = max.max(cursor);
                new_base = new_cursor;
                break;
            }
        }
        if !exhausted {
            page.more = true;
        }
        let departed = src.departures(&feed, cursor, new_cursor).await?;
        page.departures
            .extend(departed.into_iter().map(|d| (feed.clone(), d)));
        page.remaining += src.remaining(&feed, new_cursor).await?;
        page.cursors.push(FeedCursor {
            feed,
            at: Position {
                base: new_base,
                cursor: new_cursor,
            },
        });
    }
    Ok(page)
}
