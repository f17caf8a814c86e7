-- non_working_days as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('non_working_days') }}
