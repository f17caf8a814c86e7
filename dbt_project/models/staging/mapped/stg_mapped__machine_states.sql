-- machine_states as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('machine_states') }}
