-- An entry point's chat widget: its title, accent colour, logo, greeting and
-- pre-chat form, as one JSON object (see core's `widget` module).
ALTER TABLE entry_points ADD COLUMN widget TEXT NOT NULL DEFAULT '{}';
