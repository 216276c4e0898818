/* A shared object that is not a driver: it exports no DriverEntry. */
int uwsk_test_not_a_driver(int x) {
  return x + 1;
}
