//! `storyxp backfill-xp`: grants every story its missing STORY_CREATED award and every
//! published story its missing STORY_PUBLISHED award, through the live award function
//! and ledger keys (so nothing is ever granted twice), without notifications, in
//! batches of stories so no transaction grows with the table.

use std::collections::BTreeSet;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::error::AppError;
use crate::xp::rules::Subject;
use crate::xp::rules_table::current_xp;
use crate::xp::{AwardRequest, XpAction, award};

pub const DEFAULT_BATCH_SIZE: i64 = 1000;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BackfillReport {
    pub created_awards: u64,
    pub published_awards: u64,
    pub achievements: u64,
    pub xp_granted: i64,
    pub users_touched: u64,
}

#[derive(diesel::QueryableByName)]
struct MissingAwards {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    author_id: i64,
    #[diesel(sql_type = Bool)]
    needs_created: bool,
    #[diesel(sql_type = Bool)]
    needs_published: bool,
}

/// Stories after `after` (by id) that lack an award, at most `limit` of them. The
/// awards are looked up by the key the live awards use (`Subject::Story`'s: the story
/// prefix, then the id).
async fn next_batch(
    connection: &mut AsyncPgConnection,
    after: i64,
    limit: i64,
) -> Result<Vec<MissingAwards>, AppError> {
    Ok(diesel::sql_query(
        "SELECT id, author_id, needs_created, needs_published FROM ( \
           SELECT s.id, s.author_id, \
             NOT EXISTS (SELECT 1 FROM xp_ledger l WHERE l.recipient_id = s.author_id \
                         AND l.action = $3 AND l.subject = $5 || s.id) \
             AND NOT EXISTS (SELECT 1 FROM xp_capped c WHERE c.recipient_id = s.author_id \
                         AND c.action = $3 AND c.subject = $5 || s.id) AS needs_created, \
             s.published AND NOT EXISTS (SELECT 1 FROM xp_ledger l WHERE l.recipient_id = s.author_id \
                         AND l.action = $4 AND l.subject = $5 || s.id) \
             AND NOT EXISTS (SELECT 1 FROM xp_capped c WHERE c.recipient_id = s.author_id \
                         AND c.action = $4 AND c.subject = $5 || s.id) AS needs_published \
           FROM stories s WHERE s.id > $1 ORDER BY s.id LIMIT $2) batch",
    )
    .bind::<BigInt, _>(after)
    .bind::<BigInt, _>(limit)
    .bind::<Text, _>(XpAction::StoryCreated.as_str())
    .bind::<Text, _>(XpAction::StoryPublished.as_str())
    .bind::<Text, _>(Subject::STORY_PREFIX)
    .load(connection)
    .await?)
}

/// What an award of `action` pays now, by `xp_rules`.
async fn pays_now(connection: &mut AsyncPgConnection, action: XpAction) -> Result<i64, AppError> {
    current_xp(connection, action)
        .await?
        .map(i64::from)
        .ok_or_else(|| AppError::Internal(format!("{} has no amount", action.as_str())))
}

/// Runs the backfill; with `dry_run` it only counts what the base awards would grant
/// (achievements they would unlock are not counted).
pub async fn backfill(
    connection: &mut AsyncPgConnection,
    dry_run: bool,
    batch_size: i64,
) -> Result<BackfillReport, AppError> {
    let mut report = BackfillReport::default();
    let mut users = BTreeSet::new();
    let mut after = 0;
    // A dry run counts what the two awards pay now.
    let dry_run_amounts = if dry_run {
        Some((
            pays_now(connection, XpAction::StoryCreated).await?,
            pays_now(connection, XpAction::StoryPublished).await?,
        ))
    } else {
        None
    };
    loop {
        let batch = next_batch(connection, after, batch_size).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        let mut awards: Vec<(i64, XpAction, i64)> = batch
            .iter()
            .flat_map(|story| {
                let created = story.needs_created.then_some((
                    story.author_id,
                    XpAction::StoryCreated,
                    story.id,
                ));
                let published = story.needs_published.then_some((
                    story.author_id,
                    XpAction::StoryPublished,
                    story.id,
                ));
                created.into_iter().chain(published)
            })
            .collect();
        if awards.is_empty() {
            continue;
        }
        // By recipient, so user rows are locked in one order (no deadlock with live awards).
        awards.sort_by_key(|(author, _, story)| (*author, *story));
        if let Some((created_xp, published_xp)) = dry_run_amounts {
            for (author, action, _) in &awards {
                users.insert(*author);
                report.xp_granted += match action {
                    XpAction::StoryCreated => {
                        report.created_awards += 1;
                        created_xp
                    }
                    _ => {
                        report.published_awards += 1;
                        published_xp
                    }
                };
            }
            continue;
        }
        let batch_report = connection
            .transaction(async |connection| {
                let mut batch_report = BackfillReport::default();
                let mut batch_users = Vec::new();
                for (author, action, story) in &awards {
                    // Imported stories are paid in full: caps are for live actions (an
                    // award a cap refused live is never looked for, see next_batch).
                    let request = AwardRequest {
                        notify: false,
                        caps: false,
                        ..AwardRequest::new(*author, *action, Subject::Story(*story))
                    };
                    let Some(earned) = award(connection, request).await? else {
                        continue;
                    };
                    batch_users.push(*author);
                    batch_report.xp_granted += i64::from(earned.xp_gained);
                    batch_report.achievements += earned.achievements.len() as u64;
                    match action {
                        XpAction::StoryCreated => batch_report.created_awards += 1,
                        _ => batch_report.published_awards += 1,
                    }
                }
                Ok::<_, AppError>((batch_report, batch_users))
            })
            .await?;
        let (batch_report, batch_users) = batch_report;
        users.extend(batch_users);
        report.created_awards += batch_report.created_awards;
        report.published_awards += batch_report.published_awards;
        report.achievements += batch_report.achievements;
        report.xp_granted += batch_report.xp_granted;
    }
    report.users_touched = users.len() as u64;
    Ok(report)
}
