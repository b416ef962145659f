//! Collaborations in the API.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::context::{caller, connection, parse_id};
use super::story::{Story, StoryPayload};
use crate::collaborations;
use crate::error::AppError;

#[derive(SimpleObject)]
pub struct CollaborationPayload {
    story: Story,
}

#[derive(Default)]
pub struct CollaborationMutation;

#[Object]
impl CollaborationMutation {
    /// The author invites a collaborator.
    async fn invite_collaborator(
        &self,
        ctx: &Context<'_>,
        story_id: ID,
        user_id: ID,
    ) -> Result<CollaborationPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let user_id = parse_id(&user_id, "user")?;
        let mut connection = connection(ctx).await?;
        let story = collaborations::invite(&mut connection, caller(ctx), story_id, user_id).await?;
        Ok(CollaborationPayload {
            story: Story::from(story),
        })
    }

    /// The invitee accepts.
    async fn accept_collaboration(
        &self,
        ctx: &Context<'_>,
        story_id: ID,
    ) -> Result<CollaborationPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        let story = collaborations::accept(&mut connection, caller(ctx), story_id).await?;
        Ok(CollaborationPayload {
            story: Story::from(story),
        })
    }

    /// The author completes it: the author and every accepted collaborator earn, once per story.
    /// `xpEarned` is the caller's award.
    async fn complete_collaboration(
        &self,
        ctx: &Context<'_>,
        story_id: ID,
    ) -> Result<StoryPayload, AppError> {
        let story_id = parse_id(&story_id, "story")?;
        let mut connection = connection(ctx).await?;
        Ok(
            collaborations::complete(&mut connection, caller(ctx), story_id)
                .await?
                .into(),
        )
    }
}
