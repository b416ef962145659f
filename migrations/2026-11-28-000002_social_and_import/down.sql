ALTER TABLE stories DROP COLUMN django_id, DROP COLUMN collaboration_completed_at;
ALTER TABLE users DROP COLUMN django_id;
DROP TABLE collaborators, friend_requests, characters, story_reads, comments;
