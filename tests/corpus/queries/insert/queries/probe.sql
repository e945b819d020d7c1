-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
INSERT INTO clients VALUES ('x')
