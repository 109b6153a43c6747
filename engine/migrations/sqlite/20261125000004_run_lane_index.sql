-- Queue position at enqueue time counts a lane's queued and running runs;
-- without this index that count scanned every queued run of every lane.
CREATE INDEX run_by_lane ON run (lane, status);
