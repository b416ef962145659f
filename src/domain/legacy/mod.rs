//! Moving over from the old Django storybook app: importing its dump, then backfilling XP.

pub mod backfill;
pub mod django_import;
