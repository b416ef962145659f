//! Collaborations in the API.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::{caller, connection, count_awards, parse_id};
use super::story::{Story, StoryPayload};
use crate::domain::social::collaborations;
use crate::error::AppError;

/// The result of inviteCollaborator or acceptCollaboration.
#[derive(SimpleObject)]
pub struct CollaborationPayload {
    /// The story collaborated on.
    story: Story,
}

#[derive(Default)]
pub struct CollaborationMutation;

#[Object]
impl CollaborationMutation {
    /// The story's author invites a user to collaborate; inviting again changes nothing.
    /// Not the author: FORBIDDEN; inviting yourself: BAD_USER_INPUT; an unknown user:
    /// NOT_FOUND.
    async fn invite_collaborator(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the caller's story (a draft or published).")] story_id: ID,
        #[graphql(desc = "The id of the user to invite.")] user_id: ID,
    ) -> Result<CollaborationPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let user_id = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let story = collaborations::invite(&mut connection, caller(ctx), story_id, user_id).await?;
        Ok(CollaborationPayload {
            story: Story::from(story),
        })
    }

    /// The invitee accepts an invitation (the story may still be a draft). Not invited:
    /// FORBIDDEN, or NOT_FOUND for a draft of someone else's.
    async fn accept_collaboration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the story the caller was invited to.")] story_id: ID,
    ) -> Result<CollaborationPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        let story = collaborations::accept(&mut connection, caller(ctx), story_id).await?;
        Ok(CollaborationPayload {
            story: Story::from(story),
        })
    }

    /// The author completes it: the author and every accepted collaborator earn
    /// COLLABORATION_COMPLETED, once per story (completing again earns nothing).
    /// `xpEarned` is the caller's award. Not the author: FORBIDDEN; no collaborator has
    /// accepted yet: BAD_USER_INPUT.
    async fn complete_collaboration(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The id of the caller's story.")] story_id: ID,
    ) -> Result<StoryPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        let completion = collaborations::complete(&mut connection, caller(ctx), story_id).await?;
        count_awards(
            ctx,
            completion
                .outcome
                .award
                .iter()
                .chain(&completion.collaborator_awards),
        );
        Ok(completion.outcome.into())
    }
}
