-- matchcast_match_snapshot as PL/pgSQL: a SQL-language function called from a trigger is
-- re-planned on every call (~300 µs for its six-table join); PL/pgSQL caches the plan per
-- session (~30 µs). Same result, same signature.
CREATE OR REPLACE FUNCTION matchcast_match_snapshot(p_match_id text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_snapshot jsonb;
BEGIN
  SELECT jsonb_build_object(
    'match_id', m.id,
    'status', m.status,
    'minute', COALESCE(gc.minute, 0),
    'period', COALESCE(gc.period, 'pre_match'),
    'score', jsonb_build_object('home', COALESCE(sb.home_score, 0), 'away', COALESCE(sb.away_score, 0)),
    'home_team', jsonb_build_object('id', ht.id, 'name', ht.name),
    'away_team', jsonb_build_object('id', at.id, 'name', at.name),
    'league', jsonb_build_object('id', l.id, 'name', l.name),
    'kickoff_at', to_char(m.kickoff_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
  INTO v_snapshot
  FROM match m
  JOIN team ht ON ht.id = m.home_team_id
  JOIN team at ON at.id = m.away_team_id
  JOIN league l ON l.id = m.league_id
  LEFT JOIN scoreboard sb ON sb.match_id = m.id
  LEFT JOIN gameclock gc ON gc.match_id = m.id
  WHERE m.id = p_match_id;
  RETURN v_snapshot;
END $$;
