-- The users table of an application database (SQLite), for the tutorial's
-- enrichment job: user 103 has no row.
CREATE TABLE users (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO users VALUES (101, 'Ada'), (102, 'Grace'), (104, 'Linus');
