-- The common defect taxonomy (seed).
select
    client.client_id,
    types.defect_code,
    types.name_en as defect_name,
    types.name_ko as defect_name_ko,
    types.category as defect_category,
    'seeds/defect_types.csv' as source_file,
    'reference' as load_batch_id
from {{ ref('defect_types') }} as types
cross join {{ ref('stg_mapped__client') }} as client
