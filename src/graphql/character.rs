//! Characters in the API.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{caller, connection};
use super::xp::XpAward;
use crate::characters::{self, CharacterRecord};
use crate::error::AppError;

pub struct Character(pub CharacterRecord);

#[Object]
impl Character {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct CreateCharacterInput {
    /// 1 to 100 characters.
    name: String,
    /// Up to 10,000 characters.
    #[graphql(default)]
    description: String,
}

#[derive(SimpleObject)]
pub struct CharacterPayload {
    character: Character,
    xp_earned: Option<XpAward>,
}

#[derive(Default)]
pub struct CharacterMutation;

#[Object]
impl CharacterMutation {
    async fn create_character(
        &self,
        ctx: &Context<'_>,
        input: CreateCharacterInput,
    ) -> Result<CharacterPayload, AppError> {
        let owner = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        let (character, award) =
            characters::create(&mut connection, owner, input.name, input.description).await?;
        Ok(CharacterPayload {
            character: Character(character),
            xp_earned: award.map(XpAward),
        })
    }
}
