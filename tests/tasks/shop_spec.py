"""A small spec of the tests' own for data generation and task sampling: a self-reference,
structs, lists and maps, unique fields, checks, a single-row and a global invariant."""

SHOP = """
domain shop "A tiny shop: customers order products." clock "2024-03-01T10:00:00"

enum OrderStatus { pending, shipped, cancelled }

struct Address "Where to ship" {
  street: str
  city: str
  zip: str
}

entity Customer "A shopper" {
  customer_id: str @key
  name: str
  email: str @unique
  phone: str @unique
  referred_by: Customer?
  address: Address
  tags: list<str> @default([])
  scores: map<str, int>?
}

entity Product "Something for sale" {
  sku: str @key
  title: str @unique
  price: float @check(price > 0 and price < 1000)
  stock: int @check(stock >= 0 and stock <= 50)
}

entity Order "One product ordered by a customer" {
  order_id: str @key
  customer: Customer @index
  product: Product
  quantity: int @check(quantity >= 1 and quantity <= 5)
  status: OrderStatus @default(pending)
  placed: date
}

invariant small_shipments on Order: status != shipped or quantity <= 3
  else "Shipments hold at most 3 items"
invariant few_pending: count(Order.where(status: pending)) <= 3
  else "At most three orders may be pending"

tool get_customer(customer_id: str "The customer's id") -> Customer {
  "Show a customer's record."
  return Customer[customer_id]
}

tool list_orders(customer_id: str "The customer's id") -> list<Order> {
  "List a customer's orders."
  return Order.where(customer: customer_id)
}

tool cancel_order(order_id: str "The order's id") -> Order {
  "Cancel a pending order."
  let o = Order[order_id]
  require o.status == pending else "Only pending orders can be cancelled"
  set o.status = cancelled
  return o
}
"""
