-- Domain tables: leagues, teams, matches and seed 001's seven notifying tables.

CREATE TABLE league (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  country     text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE team (
  id          text PRIMARY KEY,
  league_id   text NOT NULL REFERENCES league (id),
  name        text NOT NULL,
  short_name  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE match (
  id            text PRIMARY KEY,
  league_id     text NOT NULL REFERENCES league (id),
  home_team_id  text NOT NULL REFERENCES team (id),
  away_team_id  text NOT NULL REFERENCES team (id),
  kickoff_at    timestamptz NOT NULL,
  status        text NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'live', 'half_time', 'finished', 'postponed', 'cancelled')),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (home_team_id <> away_team_id)
);
CREATE INDEX match_league_idx ON match (league_id);

-- Venue, officials and other slow-changing facts about a match.
CREATE TABLE matchdata (
  match_id    text PRIMARY KEY REFERENCES match (id) ON DELETE CASCADE,
  venue       text,
  referee     text,
  attendance  integer,
  weather     text,
  extra       jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE scoreboard (
  match_id    text PRIMARY KEY REFERENCES match (id) ON DELETE CASCADE,
  home_score  integer NOT NULL DEFAULT 0 CHECK (home_score >= 0),
  away_score  integer NOT NULL DEFAULT 0 CHECK (away_score >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The match clock: the minute shown on the scoreboard and the period.
CREATE TABLE gameclock (
  match_id          text PRIMARY KEY REFERENCES match (id) ON DELETE CASCADE,
  minute            integer NOT NULL DEFAULT 0 CHECK (minute >= 0),
  period            text NOT NULL DEFAULT 'pre_match'
                    CHECK (period IN ('pre_match', 'first_half', 'half_time', 'second_half', 'extra_time', 'penalties', 'full_time')),
  stoppage_minutes  integer NOT NULL DEFAULT 0,
  running           boolean NOT NULL DEFAULT false,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The fine-grained running clock (seconds), ticking between minute changes.
CREATE TABLE playclock (
  match_id    text PRIMARY KEY REFERENCES match (id) ON DELETE CASCADE,
  seconds     integer NOT NULL DEFAULT 0 CHECK (seconds >= 0),
  running     boolean NOT NULL DEFAULT false,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE football_event (
  id          bigserial PRIMARY KEY,
  match_id    text NOT NULL REFERENCES match (id) ON DELETE CASCADE,
  minute      integer NOT NULL CHECK (minute >= 0),
  type        text NOT NULL CHECK (type IN ('goal', 'own_goal', 'penalty_goal', 'penalty_miss',
                                            'yellow_card', 'red_card', 'substitution', 'var')),
  team        text NOT NULL CHECK (team IN ('home', 'away')),
  player      text,
  assist      text,
  player_in   text,
  detail      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX football_event_match_idx ON football_event (match_id);

CREATE TABLE player_match (
  match_id        text NOT NULL REFERENCES match (id) ON DELETE CASCADE,
  player_id       text NOT NULL,
  team            text NOT NULL CHECK (team IN ('home', 'away')),
  player_name     text NOT NULL,
  shirt_number    integer,
  position        text,
  is_starter      boolean NOT NULL DEFAULT false,
  goals           integer NOT NULL DEFAULT 0,
  assists         integer NOT NULL DEFAULT 0,
  yellow_cards    integer NOT NULL DEFAULT 0,
  red_cards       integer NOT NULL DEFAULT 0,
  minutes_played  integer NOT NULL DEFAULT 0,
  PRIMARY KEY (match_id, player_id)
);
