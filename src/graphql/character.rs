//! Characters in the API.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::context::{caller, connection, count_awards};
use super::xp::XpAward;
use crate::domain::characters::{self, CharacterRecord};
use crate::error::AppError;

pub struct Character(pub CharacterRecord);

/// A character a writer created, listed publicly in `User.characters`.
#[Object]
impl Character {
    /// The character's stable id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// 1 to 100 characters, trimmed.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Up to 10,000 characters, as written; empty when none was given.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new character.
#[derive(InputObject)]
pub struct CreateCharacterInput {
    /// 1 to 100 characters, not blank; trimmed of surrounding whitespace. Otherwise
    /// BAD_USER_INPUT.
    name: String,
    /// Up to 10,000 characters (longer: BAD_USER_INPUT), kept as written; empty unless
    /// given.
    #[graphql(default)]
    description: String,
}

/// The result of createCharacter.
#[derive(SimpleObject)]
pub struct CharacterPayload {
    /// The new character.
    character: Character,
    /// The creator's award: CHARACTER_CREATED plus any achievement it unlocked
    /// (CHARACTER_DESIGNER); null when nothing was earned.
    xp_earned: Option<XpAward>,
}

#[derive(Default)]
pub struct CharacterMutation;

#[Object]
impl CharacterMutation {
    /// Creates a character owned by the caller, who earns CHARACTER_CREATED for it.
    async fn create_character(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new character's name and description.")] input: CreateCharacterInput,
    ) -> Result<CharacterPayload, AppError> {
        let owner = caller(ctx).require_user()?;
        let mut connection = connection(ctx).await?;
        let (character, award) =
            characters::create(&mut connection, owner, input.name, input.description).await?;
        count_awards(ctx, &award);
        Ok(CharacterPayload {
            character: Character(character),
            xp_earned: award.map(XpAward),
        })
    }
}
