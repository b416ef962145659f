-- Every remaining XP action (comments, reads, characters, friends, collaborations)
-- and the bookkeeping of the Django import.

CREATE TABLE comments (
    id         BIGSERIAL PRIMARY KEY,
    story_id   BIGINT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    author_id  BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL CONSTRAINT comments_body_length CHECK (length(body) BETWEEN 1 AND 10000),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX comments_story_idx ON comments (story_id, id);

CREATE TABLE story_reads (
    story_id   BIGINT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (story_id, user_id)
);

CREATE TABLE characters (
    id          BIGSERIAL PRIMARY KEY,
    owner_id    BIGINT NOT NULL REFERENCES users (id),
    name        TEXT NOT NULL CONSTRAINT characters_name_length CHECK (length(name) BETWEEN 1 AND 100),
    description TEXT NOT NULL CONSTRAINT characters_description_length CHECK (length(description) <= 10000),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX characters_owner_idx ON characters (owner_id, id);

-- A friendship is two requests, one each way.
CREATE TABLE friend_requests (
    requester_id BIGINT NOT NULL REFERENCES users (id),
    addressee_id BIGINT NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (requester_id, addressee_id),
    CONSTRAINT friend_requests_not_self CHECK (requester_id <> addressee_id)
);
CREATE INDEX friend_requests_addressee_idx ON friend_requests (addressee_id, requester_id);

CREATE TABLE collaborators (
    story_id    BIGINT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    accepted_at TIMESTAMPTZ,
    invited_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (story_id, user_id)
);

ALTER TABLE stories ADD COLUMN collaboration_completed_at TIMESTAMPTZ;

-- Rows imported from the Django app keep their old primary keys, so a re-run skips them.
ALTER TABLE users ADD COLUMN django_id BIGINT CONSTRAINT users_django_id_key UNIQUE;
ALTER TABLE stories ADD COLUMN django_id BIGINT CONSTRAINT stories_django_id_key UNIQUE;
