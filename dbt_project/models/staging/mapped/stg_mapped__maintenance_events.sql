-- maintenance_events as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('maintenance_events') }}
