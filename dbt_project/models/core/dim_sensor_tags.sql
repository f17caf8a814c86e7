-- Every tag (sensor or process parameter) the mapping declares, with its canonical unit and quantity kind.
select
    client.client_id,
    tags.tag,
    case tags.entity when 'sensor_readings' then 'sensor' else 'process_parameter' end as tag_type,
    tags.quantity_kind,
    tags.unit,
    tags.source_unit,
    tags.semantics,
    tags.source_name,
    tags.source_column,
    'mapping.yml' as source_file,
    client.mapping_fingerprint as load_batch_id
from {{ ref('stg_mapped__sensor_tags') }} as tags
cross join {{ ref('stg_mapped__client') }} as client
qualify row_number() over (partition by tags.tag, tags.entity order by tags.source_name, tags.source_column) = 1
