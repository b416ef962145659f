-- Not reversible in place: the daily loop's functions replace those of migration 000008
-- with other parameter lists. Restore from a backup taken before migrating.
SELECT 1/0 AS daily_loop_migration_cannot_be_reverted;
