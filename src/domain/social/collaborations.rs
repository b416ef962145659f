//! Collaborations: the author invites, the invitee accepts, the author completes;
//! the author and every accepted collaborator earn COLLABORATION_COMPLETED once per story,
//! and those who are a mutual friend of another participant FRIEND_COLLABORATION too.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::auth::Caller;
use crate::db::schema::{collaborators, stories};
use crate::domain::accounts;
use crate::domain::stories::{StoryOutcome, StoryRecord, require_visible};
use crate::error::AppError;
use crate::xp::activity::lock_users;
use crate::xp::rules::{Activity, Subject};
use crate::xp::{Award, AwardRequest, XpAction, award, record_activity};

async fn require_own_story(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    story_id: i64,
) -> Result<StoryRecord, AppError> {
    let user = caller.require_user()?;
    let story = require_visible(connection, caller, story_id).await?;
    if story.author_id != user {
        return Err(AppError::Forbidden(
            "only the story's author can do this".into(),
        ));
    }
    Ok(story)
}

pub async fn invite(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    story_id: i64,
    invitee: i64,
) -> Result<StoryRecord, AppError> {
    let story = require_own_story(connection, caller, story_id).await?;
    if invitee == story.author_id {
        return Err(AppError::BadUserInput(
            "you cannot invite yourself to your own story".into(),
        ));
    }
    accounts::find(connection, invitee)
        .await?
        .ok_or_else(|| AppError::not_found("user"))?;
    diesel::insert_into(collaborators::table)
        .values((
            collaborators::story_id.eq(story_id),
            collaborators::user_id.eq(invitee),
        ))
        .on_conflict_do_nothing()
        .execute(connection)
        .await?;
    Ok(story)
}

/// Accepts an invitation; invitees see the story even while it is a draft.
pub async fn accept(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    story_id: i64,
) -> Result<StoryRecord, AppError> {
    let user = caller.require_user()?;
    let accepted = diesel::update(collaborators::table.find((story_id, user)))
        .set(collaborators::accepted_at.eq(crate::db::clock_now()))
        .execute(connection)
        .await?;
    if accepted == 0 {
        // Tell apart a story they cannot see from one they were not invited to.
        require_visible(connection, caller, story_id).await?;
        return Err(AppError::Forbidden(
            "you have not been invited to collaborate on this story".into(),
        ));
    }
    Ok(stories::table
        .find(story_id)
        .select(StoryRecord::as_select())
        .first(connection)
        .await?)
}

/// A completed collaboration.
pub struct Completion {
    /// The story and the caller's (its author's) award.
    pub outcome: StoryOutcome,
    /// The awards of the accepted collaborators (none for those who had earned it).
    pub collaborator_awards: Vec<Award>,
}

/// Completes the collaboration: every participant is awarded in one transaction.
pub async fn complete(
    connection: &mut AsyncPgConnection,
    caller: Caller,
    story_id: i64,
) -> Result<Completion, AppError> {
    connection
        .transaction(async move |connection| {
            let story = require_own_story(connection, caller, story_id).await?;
            let mut participants: Vec<i64> = collaborators::table
                .filter(collaborators::story_id.eq(story_id))
                .filter(collaborators::accepted_at.is_not_null())
                .select(collaborators::user_id)
                .load(connection)
                .await?;
            if participants.is_empty() {
                return Err(AppError::BadUserInput(
                    "no collaborator has accepted an invitation to this story yet".into(),
                ));
            }
            diesel::update(stories::table.find(story_id))
                .filter(stories::collaboration_completed_at.is_null())
                .set(stories::collaboration_completed_at.eq(crate::db::clock_now()))
                .execute(connection)
                .await?;
            participants.push(story.author_id);
            // User rows are locked in id order so concurrent awards cannot deadlock.
            participants.sort_unstable();
            lock_users(connection, &participants).await?;
            let bonus =
                record_activity(connection, story.author_id, Activity::CompleteCollaboration)
                    .await?;
            let mut author_award = None;
            let mut collaborator_awards = Vec::new();
            let friends = super::friends::friends_among(connection, &participants).await?;
            for participant in participants {
                let mut earned = award(
                    connection,
                    AwardRequest::new(
                        participant,
                        XpAction::CollaborationCompleted,
                        Subject::Story(story_id),
                    ),
                )
                .await?;
                if friends.binary_search(&participant).is_ok() {
                    let friendly = award(
                        connection,
                        AwardRequest::new(
                            participant,
                            XpAction::FriendCollaboration,
                            Subject::Story(story_id),
                        ),
                    )
                    .await?;
                    earned = Award::combine(earned, friendly);
                }
                if participant == story.author_id {
                    author_award = earned;
                } else {
                    collaborator_awards.extend(earned);
                }
            }
            Ok(Completion {
                outcome: StoryOutcome::whole(story, Award::combine(bonus, author_award)),
                collaborator_awards,
            })
        })
        .await
}
