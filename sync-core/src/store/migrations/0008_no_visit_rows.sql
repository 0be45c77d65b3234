-- Visits had a projection table no query ever read: a grid's 5,000 rows
-- (and an index) written on every phone for nothing, most of the cost of
-- building the lists after a pull. The lists read a household's last
-- visit and last contact from p_households.
DROP TABLE p_visits;
