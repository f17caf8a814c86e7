-- production_counts as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('production_counts') }}
