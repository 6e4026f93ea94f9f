/** An order as the API answers it, for the OpenAPI examples. */
export const ORDER_EXAMPLE = {
  id: '6b1f4c1e-8a51-4c1c-9d3a-2f0e5b7c9a10',
  number: 'ORD-1001',
  placed_at: '2021-10-03T14:12:00.000Z',
  status: 'PAID',
  currency: 'EUR',
  customer: { name: 'Ada Lovelace', email: 'ada@example.com' },
  items: [{ sku: 'SKU-1', name: 'Mug', quantity: 2, unit_price: '12.50' }],
  item_count: 2,
  total: '25.00',
  created_at: '2021-10-03T14:12:01.000Z',
};
