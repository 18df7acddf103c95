// Secure aggregation: explicit public exports are listed here.
export {};
