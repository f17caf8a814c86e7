-- energy_meters as the mapping delivers them, each delivered row once (the later load wins).
{{ deduplicated('energy_meters') }}
